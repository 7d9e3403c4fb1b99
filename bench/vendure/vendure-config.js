// Vendure 3 as a benchmark peer of Bazaar: production settings, PostgreSQL on loopback, shop API
// at /shop-api, admin API at /admin-api, no admin UI, no email, no GraphQL playground.
// Every setting is explained in NOTES.md. Plain CommonJS, no build step.
'use strict';

const path = require('path');
const crypto = require('crypto');

// Vendure 3.6+ sends anonymous telemetry from the server process unless told not to; the bench
// machine has no route to it anyway, and nothing should leave it.
process.env.VENDURE_DISABLE_TELEMETRY = process.env.VENDURE_DISABLE_TELEMETRY || 'true';

const {
    DefaultJobQueuePlugin,
    DefaultSchedulerPlugin,
    DefaultSearchPlugin,
    DefaultLogger,
    LogLevel,
    dummyPaymentHandler,
} = require('@vendure/core');
const { AssetServerPlugin } = require('@vendure/asset-server-plugin');
const { HardenPlugin } = require('@vendure/harden-plugin');

const env = process.env;
const port = Number(env.VENDURE_PORT || 18482);
const host = env.VENDURE_HOST || '127.0.0.1';
const assetDir = env.VENDURE_ASSET_DIR || path.join(__dirname, 'static', 'assets');

const config = {
    apiOptions: {
        hostname: host,
        port,
        shopApiPath: 'shop-api',
        adminApiPath: 'admin-api',
        shopApiPlayground: false,
        adminApiPlayground: false,
        shopApiDebug: false,
        adminApiDebug: false,
        // Only same-origin callers (the bench's curl/wrk send no Origin header).
        cors: { origin: false, credentials: true },
        csrfPrevention: true,
        trustProxy: false,
    },
    authOptions: {
        tokenMethod: ['bearer', 'cookie'],
        superadminCredentials: {
            identifier: env.VENDURE_SUPERADMIN_USERNAME || 'superadmin',
            password: env.VENDURE_SUPERADMIN_PASSWORD || 'bench staff passphrase',
        },
        cookieOptions: {
            secret: env.VENDURE_COOKIE_SECRET || crypto.randomBytes(32).toString('hex'),
        },
    },
    dbConnectionOptions: {
        type: 'postgres',
        host: env.VENDURE_DB_HOST || '127.0.0.1',
        port: Number(env.VENDURE_DB_PORT || 5432),
        username: env.VENDURE_DB_USER || 'postgres',
        password: env.VENDURE_DB_PASSWORD || 'postgres',
        database: env.VENDURE_DB || 'vendure_bench',
        ssl: false,
        synchronize: false,
        migrationsRun: false,
        logging: false,
        // node-postgres pool size (its own default is 10); the bench gives every server 4.
        extra: { max: Number(env.VENDURE_POOL_SIZE || 4) },
    },
    paymentOptions: {
        paymentMethodHandlers: [dummyPaymentHandler],
    },
    logger: new DefaultLogger({ level: LogLevel[env.VENDURE_LOG_LEVEL || 'Info'] }),
    customFields: {},
    plugins: [
        AssetServerPlugin.init({
            route: 'assets',
            assetUploadDir: assetDir,
            assetUrlPrefix: env.VENDURE_ASSET_URL_PREFIX || `http://${host}:${port}/assets/`,
        }),
        DefaultSchedulerPlugin.init(),
        DefaultJobQueuePlugin.init({ useDatabaseForBuffer: true }),
        DefaultSearchPlugin.init({ bufferUpdates: false, indexStockStatus: true }),
        HardenPlugin.init({
            maxQueryComplexity: Number(env.VENDURE_MAX_QUERY_COMPLEXITY || 1000),
            apiMode: 'prod',
        }),
    ],
};

module.exports = { config };
