export { changePin, operateCard, listCardsOfCustomer } from '../cards/index.js';
