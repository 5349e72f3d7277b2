import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import './pos.css';

const root = document.getElementById('root');
if (!root) throw new Error('#root missing from pos/index.html');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
