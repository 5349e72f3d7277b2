import { defineErrors } from '../errors.js';

export const keysError = defineErrors('keys', {
  KEY_IN_USE: { status: 409, iso: '909', zh: '仍有数据使用该密钥，不能停用；请先完成重新加密', en: 'Values still use this key; finish re-encryption before retiring it' },
  KEY_IS_CURRENT: { status: 409, iso: '909', zh: '当前密钥不能停用；请先配置新的当前密钥', en: 'The current key cannot be retired; make another key current first' },
  KEY_UNKNOWN: { status: 404, iso: '909', zh: '未配置该密钥编号', en: 'No key with this id is configured' },
});
