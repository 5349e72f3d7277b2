import { defineErrors } from '../platform/index.js';

export const customersError = defineErrors('customers', {
  CUSTOMER_NOT_FOUND: { status: 404, iso: '902', zh: '客户不存在', en: 'Customer not found' },
  CUSTOMER_ID_NUMBER_TAKEN: { status: 409, iso: '902', zh: '该证件号已登记', en: 'A customer with this ID document already exists' },
  CUSTOMER_PHONE_INVALID: { status: 400, iso: '904', zh: '手机号格式不正确', en: 'Mobile phone number is not valid' },
  CUSTOMER_ID_NUMBER_INVALID: { status: 400, iso: '904', zh: '证件号码格式不正确', en: 'ID document number is not valid' },
});
