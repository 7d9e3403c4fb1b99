// Creates the Vendure bench database from nothing: drops and recreates $VENDURE_DB (default
// vendure_bench), lets TypeORM create the schema (synchronize, only here), loads Vendure's own
// sample shop (@vendure/create's initial-data.json, products.csv and images) and a generated
// catalog shaped like Bazaar's bench seed (12 leaf categories, "Adjective Noun k" products with
// 2-3 variants of one option), creates the collections, applies their filters (job queue in this
// process), rebuilds the DefaultSearchPlugin index once (in a worker) and runs VACUUM ANALYZE.
// NOTES.md describes each step. Takes about 16 min for 12,000 products on 2 cores.
//
//   VENDURE_PRODUCTS=12000 ./node_modules/.bin/node populate.js   (Bazaar's scale 200: 12,000)
//   VENDURE_SAMPLE=0                          (leave out Vendure's 54 sample products)
'use strict';

process.env.NODE_ENV = process.env.NODE_ENV || 'production';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { Client } = require('pg');

const env = process.env;
const productCount = Number(env.VENDURE_PRODUCTS ?? 12000);
const withSample = env.VENDURE_SAMPLE !== '0';
const dbName = env.VENDURE_DB || 'vendure_bench';
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const say = msg => console.log(`[populate ${elapsed()}] ${msg}`);

if (!/^[a-z_][a-z0-9_]*$/.test(dbName)) throw new Error(`unsafe database name ${dbName}`);

const sampleDir = path.join(path.dirname(require.resolve('@vendure/create/package.json')), 'assets');
const imagesDir = path.join(sampleDir, 'images');

// --- the generated catalog: the departments, names and price ranges of Bazaar's seed ----------
const SIZES = ['S', 'M', 'L', 'XL'];
const COLORS = ['Black', 'White', 'Sage', 'Navy'];
const DEPARTMENTS = [
    ['Apparel', 'T-Shirts', 'T-Shirt', [1500, 3500], ['Size', SIZES]],
    ['Apparel', 'Hoodies', 'Hoodie', [4500, 8900], ['Size', SIZES]],
    ['Apparel', 'Hats', 'Cap', [1800, 3200], ['Color', COLORS]],
    ['Home & Kitchen', 'Mugs', 'Mug', [1200, 2800], ['Color', COLORS]],
    ['Home & Kitchen', 'Cookware', 'Skillet', [3900, 14900], ['Size', ['20 cm', '24 cm', '28 cm']]],
    ['Home & Kitchen', 'Candles', 'Candle', [1400, 4200], ['Scent', ['Cedar', 'Fig', 'Sea Salt']]],
    ['Electronics', 'Headphones', 'Headphones', [5900, 34900], ['Color', COLORS]],
    ['Electronics', 'Chargers', 'Charger', [1900, 6900], ['Power', ['20 W', '45 W', '65 W']]],
    ['Electronics', 'Speakers', 'Speaker', [4900, 24900], ['Color', COLORS]],
    ['Outdoors', 'Backpacks', 'Backpack', [5900, 18900], ['Capacity', ['20 L', '28 L', '35 L']]],
    ['Outdoors', 'Tents', 'Tent', [12900, 49900], ['Sleeps', ['1', '2', '4']]],
    ['Outdoors', 'Water Bottles', 'Bottle', [1500, 4500], ['Capacity', ['350 ml', '500 ml', '750 ml']]],
].map(([root, name, noun, priceRange, option]) => ({ root, name, noun, priceRange, option }));
const ADJECTIVES = ['Classic', 'Everyday', 'Alpine', 'Coastal', 'Midnight', 'Summit', 'Heritage', 'Urban',
    'Meadow', 'Harbor', 'Canyon', 'Aurora', 'Granite', 'Willow', 'Ember', 'Nordic'];
const FEATURES = ['Made to last and easy to care for.', 'Designed in small batches with recycled materials.',
    'A customer favourite, now in more options.', 'Light, sturdy and ready for every day.',
    'Backed by our two-year guarantee.'];

const slugify = s => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
const csvField = v => {
    const s = String(v ?? '');
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};
// mulberry32: deterministic, so a given VENDURE_PRODUCTS always gives the same catalog.
function rng(seed) {
    let a = seed >>> 0;
    const next = () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    return { next, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)) };
}

function generateCsv(count, file) {
    const r = rng(0xba2aa2);
    const images = fs.readdirSync(imagesDir).filter(f => f.endsWith('.jpg')).sort();
    const header = ['name', 'slug', 'description', 'assets', 'facets', 'optionGroups', 'optionValues', 'sku',
        'price', 'taxCategory', 'stockOnHand', 'trackInventory', 'variantAssets', 'variantFacets'];
    const lines = [header.join(',')];
    const disabledSlugs = [];
    let variants = 0;
    const perDepartment = Math.ceil(count / DEPARTMENTS.length);
    let id = 0;
    for (let n = 0; n < perDepartment && id < count; n++) {
        for (const d of DEPARTMENTS) {
            if (id >= count) break;
            id++;
            const name = `${ADJECTIVES[n % ADJECTIVES.length]} ${d.noun} ${Math.floor(n / ADJECTIVES.length) + 1}`;
            const slug = `${slugify(name)}-${id}`;
            const description = `${name}. ${FEATURES[r.int(0, FEATURES.length - 1)]}`;
            // Bazaar's seed: 1 in 40 products is a draft and 1 in 40 archived; here both are
            // disabled products (not visible in the shop API).
            if (r.int(0, 39) < 2) disabledSlugs.push(slug);
            const [low, high] = d.priceRange;
            const basePrice = Math.floor(r.int(low, high) / 100) * 100 + (r.next() < 0.5 ? 99 : 0);
            const [optionName, values] = d.option;
            const variantCount = r.int(2, Math.min(values.length, 3));
            const imageCount = r.int(1, 2);
            const assets = [];
            for (let i = 0; i < imageCount; i++) assets.push(images[(id * 7 + i * 13) % images.length]);
            const prefix = d.noun.replace(/[^A-Za-z]/g, '').slice(0, 3).toUpperCase();
            for (let position = 0; position < variantCount; position++) {
                const value = values[position];
                const stock = r.int(0, 9) === 0 ? 0 : r.int(1, 60);
                const price = basePrice + position * 500;
                const first = position === 0;
                lines.push([
                    first ? name : '',
                    first ? slug : '',
                    first ? description : '',
                    first ? assets.join('|') : '',
                    first ? `category:${d.root}|category:${d.name}` : '',
                    first ? optionName : '',
                    value,
                    `${prefix}-${String(id).padStart(5, '0')}-${slugify(value).toUpperCase()}`,
                    (price / 100).toFixed(2),
                    // Bazaar's bench charges no tax; Vendure's sample data has a 0 % category.
                    'zero',
                    stock,
                    '',
                    '',
                    '',
                ].map(csvField).join(','));
                variants++;
            }
        }
    }
    fs.writeFileSync(file, lines.join('\n') + '\n');
    return { products: id, variants, disabledSlugs };
}

function generatedCollections(existing) {
    const names = new Set(existing.map(c => c.name));
    const out = [];
    for (const root of [...new Set(DEPARTMENTS.map(d => d.root))]) {
        if (!names.has(root)) {
            out.push({
                name: root,
                slug: slugify(root),
                filters: [{ code: 'facet-value-filter', args: { facetValueNames: [`category:${root}`], containsAny: false } }],
            });
        }
    }
    for (const d of DEPARTMENTS) {
        out.push({
            name: d.name,
            slug: slugify(d.name),
            parentName: d.root,
            filters: [{ code: 'facet-value-filter', args: { facetValueNames: [`category:${d.name}`], containsAny: false } }],
        });
    }
    return out;
}

async function adminQuery(sql, params) {
    const c = new Client({ host: env.VENDURE_DB_HOST || '127.0.0.1', port: Number(env.VENDURE_DB_PORT || 5432),
        user: env.VENDURE_DB_USER || 'postgres', password: env.VENDURE_DB_PASSWORD || 'postgres', database: 'postgres', ssl: false });
    await c.connect();
    try { return await c.query(sql, params); } finally { await c.end(); }
}

async function main() {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'vendure-populate-'));
    const csvFile = path.join(work, 'generated-products.csv');
    const gen = productCount > 0 ? generateCsv(productCount, csvFile) : { products: 0, variants: 0, disabledSlugs: [] };
    say(`generated ${gen.products} products, ${gen.variants} variants (${gen.disabledSlugs.length} to disable) in ${csvFile}`);

    await adminQuery(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await adminQuery(`CREATE DATABASE ${dbName}`);
    say(`created database ${dbName}`);

    const { bootstrap, bootstrapWorker, mergeConfig, JobQueueService, RequestContextService, SearchService,
        TransactionalConnection, Logger } = require('@vendure/core');
    const { populateInitialData, importProductsFromCsv, populateCollections } = require('@vendure/core/cli');
    const { config } = require('./vendure-config');
    // Uploaded assets are written where the server will serve them from; start clean.
    const assetDir = env.VENDURE_ASSET_DIR || path.join(__dirname, 'static', 'assets');
    fs.rmSync(assetDir, { recursive: true, force: true });

    // Phase 1, the server application (bootstrapWorker never synchronizes the schema), on a free
    // port of the loopback interface so that a running bench server is not in the way. Its job
    // queue, once started, only applies collection filters.
    const app = await bootstrap(mergeConfig(config, {
        apiOptions: { port: 0 },
        dbConnectionOptions: { synchronize: true },
        importExportOptions: { importAssetsDir: imagesDir },
        jobQueueOptions: { activeQueues: ['apply-collection-filters'] },
    }));
    say('schema created (synchronize), superadmin created');
    const connection = app.get(TransactionalConnection).rawConnection;
    const pending = async queue => (await connection.query(
        `SELECT count(*)::int AS n FROM job_record WHERE "queueName" = $1 AND state IN ('PENDING','RUNNING','RETRYING')`,
        [queue]))[0].n;
    const drain = async queue => { while (await pending(queue) > 0) await new Promise(r => setTimeout(r, 500)); };
    const checkFailed = async () => {
        const failed = await connection.query(`SELECT "queueName", error FROM job_record WHERE state = 'FAILED'`);
        if (failed.length) throw new Error(`failed jobs: ${JSON.stringify(failed).slice(0, 2000)}`);
    };

    const initialData = JSON.parse(fs.readFileSync(path.join(sampleDir, 'initial-data.json'), 'utf8'));
    if (!withSample) initialData.collections = [];
    initialData.collections = [...initialData.collections, ...generatedCollections(initialData.collections)];
    await populateInitialData(app, initialData);
    say('initial data (countries, zones, tax rates, shipping and payment methods, roles)');

    process.env.CREATING_VENDURE_APP = 'true'; // no progress bar on stdout
    if (withSample) {
        const res = await importProductsFromCsv(app, path.join(sampleDir, 'products.csv'), initialData.defaultLanguage);
        if (res.errors?.length) throw new Error(`sample import: ${res.errors.slice(0, 5).join('; ')}`);
        say(`imported ${res.imported} sample products`);
    }
    if (gen.products > 0) {
        const res = await importProductsFromCsv(app, csvFile, initialData.defaultLanguage);
        if (res.errors?.length) throw new Error(`generated import: ${res.errors.slice(0, 5).join('; ')}`);
        say(`imported ${res.imported} generated products`);
    }
    if (gen.disabledSlugs.length) {
        await connection.query(
            `UPDATE product p SET enabled = false FROM product_translation t
             WHERE t."baseId" = p.id AND t.slug = ANY($1)`, [gen.disabledSlugs]);
    }
    await populateCollections(app, initialData); // enqueues a filter job per collection, and a reindex
    say(`created ${initialData.collections.length} collections`);
    // The import queued a search-index update per variant (each stock movement) and
    // populateCollections a reindex; a single reindex after the collection filters replaces them
    // all (one job per 200 ms poll would take hours at 30,000 variants).
    await connection.query(`DELETE FROM job_record WHERE "queueName" = 'update-search-index'`);
    // "Running jobs on the main process" (Vendure's worker guide): fine for a one-off script.
    await app.get(JobQueueService).start();
    await drain('apply-collection-filters');
    await new Promise(r => setTimeout(r, 1000)); // the last CollectionModificationEvent's job
    await checkFailed();
    // Applying the filters queued search-index updates per collection: superseded too.
    await connection.query(`DELETE FROM job_record WHERE "queueName" = 'update-search-index'`);
    say('collection filters applied');
    await app.close();

    // Phase 2, a worker (the schema exists now): one full reindex of DefaultSearchPlugin's index.
    // (Vendure keeps one global config that each bootstrap merges into: undo phase 1's overrides.)
    const worker = await bootstrapWorker(mergeConfig(config, {
        apiOptions: { port: config.apiOptions.port },
        jobQueueOptions: { activeQueues: [] },
    }));
    const wconn = worker.app.get(TransactionalConnection).rawConnection;
    const ctx = await worker.app.get(RequestContextService).create({ apiType: 'admin' });
    await worker.app.get(SearchService).reindex(ctx);
    await worker.startJobQueue();
    while ((await wconn.query(`SELECT count(*)::int AS n FROM job_record
        WHERE state IN ('PENDING','RUNNING','RETRYING')`))[0].n > 0) await new Promise(r => setTimeout(r, 500));
    say('search index rebuilt');
    const [counts] = await wconn.query(`SELECT
        (SELECT count(*) FROM product WHERE "deletedAt" IS NULL)::int AS products,
        (SELECT count(*) FROM product WHERE enabled AND "deletedAt" IS NULL)::int AS enabled_products,
        (SELECT count(*) FROM product_variant WHERE "deletedAt" IS NULL)::int AS variants,
        (SELECT count(*) FROM asset)::int AS assets,
        (SELECT count(*) FROM collection)::int AS collections,
        (SELECT count(*) FROM search_index_item)::int AS search_index_rows,
        (SELECT min(n) FROM (SELECT count(*) AS n FROM collection_product_variants_product_variant
            GROUP BY "collectionId") x)::int AS min_variants_per_collection`);
    say(`done: ${JSON.stringify(counts)}`);
    const failed = await wconn.query(`SELECT "queueName", error FROM job_record WHERE state = 'FAILED'`);
    if (failed.length) throw new Error(`failed jobs: ${JSON.stringify(failed).slice(0, 2000)}`);
    if (env.VENDURE_KEEP_JOBS !== '1') await wconn.query(`DELETE FROM job_record`);
    await wconn.query(`VACUUM ANALYZE`);
    say('VACUUM ANALYZE');
    await worker.app.close();
    fs.rmSync(work, { recursive: true, force: true });
    Logger.info(`populated ${dbName} in ${elapsed()}`);
}

main().then(() => process.exit(0), err => {
    console.error(err);
    process.exit(1);
});
