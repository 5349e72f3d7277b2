import { Type } from 'typebox';
import type { App } from '../platform/index.js';
import { access, actorOf, FreeText, Id, Nullable, StaffGroups } from '../platform/index.js';
import { PERSONAL_DATA } from './register.js';
import {
  CONSENT_CHANNELS,
  CONSENT_PURPOSES,
  exportPersonalData,
  listConsents,
  recordConsent,
  type PrivacyDeps,
} from './privacy.service.js';

const bearer = [{ bearer: [] }];
const tags = ['privacy'];

const Purpose = Type.Union(CONSENT_PURPOSES.map((p) => Type.Literal(p)));
const Version = Type.String({ pattern: '^[0-9A-Za-z._-]{1,32}$' });

const ConsentSchema = Type.Object({
  id: Type.String(),
  purpose: Type.String(),
  version: Type.String(),
  granted: Type.Boolean(),
  channel: Type.String(),
  evidence: Nullable(Type.String()),
  staffId: Nullable(Type.Integer()),
  at: Type.String(),
});
const ConsentStateSchema = Type.Object({ current: Type.Array(ConsentSchema), history: Type.Array(ConsentSchema) });

const RegisterEntrySchema = Type.Object({
  field: Type.String(),
  category: Type.String(),
  sensitive: Type.Boolean(),
  description: Type.String(),
  purpose: Type.String(),
  legalBasis: Type.String(),
  retention: Type.String(),
  mask: Type.String(),
  unmaskedRoles: Type.Array(Type.String()),
  onAnonymise: Type.String(),
});

/** Staff who handle a person's requests about their data (counter and service desk). */
const DATA_DESK = ['admin', 'operator'] as const;

export function privacyRoutes(app: App, deps: PrivacyDeps): void {
  app.get(
    '/api/v1/privacy/register',
    {
      config: { access: access.roles('admin', 'risk') },
      schema: {
        tags,
        summary: 'The register of personal data held, why and how it is masked / 个人信息清单',
        security: bearer,
        response: { 200: Type.Object({ items: Type.Array(RegisterEntrySchema) }) },
      },
    },
    async () => ({ items: PERSONAL_DATA.map((f) => ({ ...f, unmaskedRoles: [...f.unmaskedRoles] })) }),
  );

  app.get(
    '/api/v1/customers/:id/consents',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags,
        summary: 'A customer’s consents, current and history / 客户授权同意记录',
        security: bearer,
        params: Type.Object({ id: Id() }),
        response: { 200: ConsentStateSchema },
      },
    },
    async (req) => listConsents(deps.db, req.params.id),
  );

  app.post(
    '/api/v1/customers/:id/consents',
    {
      config: { access: access.roles(...DATA_DESK) },
      schema: {
        tags,
        summary: 'Record a grant or withdrawal of consent / 记录同意或撤回同意',
        description: 'Append-only: withdrawing adds a record. Withdrawing needs a grant in force (PRIVACY_CONSENT_NOT_GRANTED).',
        security: bearer,
        params: Type.Object({ id: Id() }),
        body: Type.Object(
          {
            purpose: Purpose,
            version: Version,
            granted: Type.Boolean(),
            channel: Type.Union(CONSENT_CHANNELS.filter((c) => c !== 'portal').map((c) => Type.Literal(c))),
            evidence: Type.Optional(FreeText({ minLength: 1, maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: ConsentSchema },
      },
    },
    async (req, reply) => reply.status(201).send(await recordConsent(deps.db, actorOf(req), req.params.id, req.body)),
  );

  app.get(
    '/api/v1/customers/:id/personal-data',
    {
      config: { access: access.roles(...DATA_DESK) },
      schema: {
        tags,
        summary: 'Export everything held about a person (PIPL Art. 45) / 导出个人信息副本',
        description: 'Unmasked: the person’s own data, for handing to them. Audited as privacy.export. Format: docs/privacy.md.',
        security: bearer,
        params: Type.Object({ id: Id() }),
        // The shape is documented in docs/privacy.md; the route returns it as built.
        response: { 200: Type.Object({ format: Type.String() }, { additionalProperties: true }) },
      },
    },
    async (req) => exportPersonalData(deps, actorOf(req), req.params.id),
  );

  app.get(
    '/api/v1/portal/consents',
    {
      config: { access: access.cardholder },
      schema: { tags, summary: 'My consents / 我的授权同意', security: bearer, response: { 200: ConsentStateSchema } },
    },
    async (req) => listConsents(deps.db, req.cardholder!.customerId),
  );

  app.post(
    '/api/v1/portal/consents',
    {
      config: { access: access.cardholder },
      schema: {
        tags,
        summary: 'Grant or withdraw a consent myself / 同意或撤回同意',
        security: bearer,
        body: Type.Object({ purpose: Purpose, version: Version, granted: Type.Boolean() }, { additionalProperties: false }),
        response: { 201: ConsentSchema },
      },
    },
    async (req, reply) =>
      reply
        .status(201)
        // The portal session (its request id in the audit row) is the evidence.
        .send(await recordConsent(deps.db, actorOf(req), req.cardholder!.customerId, { ...req.body, channel: 'portal', evidence: `portal request ${req.id}` })),
  );
}
