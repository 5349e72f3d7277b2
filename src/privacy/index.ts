export { privacyRoutes } from './privacy.routes.js';
export {
  auditUnmaskedView,
  VIEW_UNMASKED,
  recordConsent,
  listConsents,
  exportPersonalData,
  anonymiseDueCustomers,
  startPrivacyJobs,
  privacyRetentionDays,
  DEFAULT_RETENTION_DAYS,
  EXPORT_FORMAT,
  CONSENT_PURPOSES,
  CONSENT_CHANNELS,
  type ConsentPurpose,
  type ConsentChannel,
  type ConsentRecord,
  type PersonalDataExport,
  type PrivacyDeps,
} from './privacy.service.js';
export { PERSONAL_DATA, NOT_PERSONAL, registerEntry, applyMask, showField, type PersonalField, type MaskRule, type PersonalCategory } from './register.js';
export { privacyError } from './privacy.errors.js';
