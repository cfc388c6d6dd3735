import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Config } from './config.ts';
import type { Database } from './db/open-database.ts';
import type { Services } from './services.ts';
import { registerProblemHandlers } from './plugins/problem.ts';
import { registerSecurityHeaders } from './plugins/security-headers.ts';
import { ProblemSchema } from './routes/schemas.ts';
import { healthRoutes } from './routes/health.ts';
import { adminApiRoutes } from './routes/admin-api.ts';
import { gatewayApiRoutes } from './routes/gateway-api.ts';
import { payloadRoutes } from './routes/payloads.ts';
import { outboxRoutes } from './routes/outbox.ts';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import { createI18n } from './i18n/create-i18n.ts';
import { LOCALES_DIR, PUBLIC_DIR, VIEWS_DIR } from './paths.ts';
import { createPageRenderer } from './plugins/pages.ts';
import { registerOriginCheck } from './plugins/origin-check.ts';
import { assetRoutes } from './routes/assets.ts';
import { openRoutes } from './routes/open.ts';
import { READER_ASSETS } from './reader/bundle.ts';
import { accountPageRoutes } from './routes/account-pages.ts';
import { accountSettingsRoutes } from './routes/account-settings.ts';
import { adminMessagesApiRoutes } from './routes/admin-messages-api.ts';
import { adminStaffApiRoutes } from './routes/admin-staff-api.ts';
import { sentPageRoutes } from './routes/sent-pages.ts';
import { consoleOrgRoutes } from './routes/console-org.ts';
import { consoleProfileRoutes } from './routes/console-profiles.ts';
import { consoleTemplateRoutes } from './routes/console-templates.ts';
import { consoleMessageRoutes } from './routes/console-messages.ts';
import type { i18n } from 'i18next';

export interface AppDeps {
  config: Config;
  database: Database;
  services: Services;
  logger?: FastifyBaseLogger;
  /** The one i18next instance of the process; made here when the caller has none. */
  i18n?: i18n;
}

/** Paths and headers whose values are secrets; pino replaces them before anything is written. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.serverShare',
  '*.envelopeSecret',
  '*.secret',
  '*.passphrase',
  '*.token',
  '*.credential',
  'serverShare',
  'envelopeSecret',
  'token',
];

/**
 * The key service as a function of its dependencies. Registration order is fixed: cross-cutting
 * handlers first, the OpenAPI generator before any route (it records routes as they are added).
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config, database, services } = deps;
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    trustProxy: config.trustProxy,
    bodyLimit: 1024 * 1024,
    routerOptions: { ignoreTrailingSlash: true },
    // Unknown fields are refused, not silently dropped: a typo in a gateway's upload must show.
    ajv: { customOptions: { removeAdditional: false } },
  });

  const i18n = deps.i18n ?? createI18n(LOCALES_DIR);
  const pages = createPageRenderer({ i18n, views: VIEWS_DIR });

  registerProblemHandlers(app);
  registerSecurityHeaders(app);
  app.addSchema(ProblemSchema);
  await app.register(cookie);
  await app.register(formbody);
  registerOriginCheck(app, {
    publicUrl: config.publicUrl,
    refuse: (request, reply) => pages.send(request, reply, { view: 'pages/refused.hbs', titleKey: 'pages:refused.title', locale: pages.localeOf(request), status: 403 }),
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Waxseal key service',
        version: '1',
        description: 'Stores envelope keys for gateways and releases them to recipients. Errors are application/problem+json.',
      },
      servers: [{ url: config.publicUrl }],
      components: {
        securitySchemes: {
          adminToken: { type: 'http', scheme: 'bearer', description: 'Administrator token (wxa_…) from `waxseal admin init`' },
          gatewayCredential: { type: 'http', scheme: 'bearer', description: 'Gateway credential (wxg_…) from provisioning a profile' },
        },
      },
    },
  });
  // The API browser serves its own CSP (scripts and styles from itself only); no remote validator.
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true, uiConfig: { validatorUrl: null } });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthRoutes, { ping: () => database.ping() });
  await app.register(adminApiRoutes, { prefix: '/api/v1/admin', services });
  await app.register(adminMessagesApiRoutes, { prefix: '/api/v1/admin', services });
  await app.register(adminStaffApiRoutes, { prefix: '/api/v1/admin', services });
  await app.register(gatewayApiRoutes, { prefix: '/api/v1', services, config });
  await app.register(payloadRoutes, { services });
  await app.register(assetRoutes, { publicDir: PUBLIC_DIR, lazy: READER_ASSETS });
  await app.register(openRoutes, { config, services, pages });
  await app.register(accountPageRoutes, { services, pages, i18n });
  await app.register(accountSettingsRoutes, { services, pages, i18n });
  await app.register(sentPageRoutes, { services, pages, i18n });
  await app.register(consoleOrgRoutes, { services, pages, i18n });
  await app.register(consoleProfileRoutes, { services, pages, i18n });
  await app.register(consoleTemplateRoutes, { services, pages, i18n, publicUrl: config.publicUrl });
  await app.register(consoleMessageRoutes, { services, pages, i18n });
  if (services.mail.mode === 'outbox') {
    await app.register(outboxRoutes, { mail: services.mail, i18n, views: VIEWS_DIR });
  }
  // Release attempts join the audit chain in the background, on every node (the chain's lock
  // keeps them in one order); the last batch is finished before the app closes.
  services.audit.start();
  // Read-by notices: every node sweeps once a minute; claims on the envelope rows keep them apart.
  services.readBy.start();
  // Envelopes whose payload never arrived (a gateway retried under a new envelope): hourly.
  services.unfinishedUploads.start();
  app.addHook('onClose', async () => {
    await services.audit.stop();
    await services.readBy.stop();
    await services.unfinishedUploads.stop();
  });
  return app;
}
