// The Vendure worker process (job queue: search-index updates, collection filters, scheduled
// tasks). Not needed to answer shop-API requests; start.sh starts it with VENDURE_WORKER=1.
'use strict';
const { bootstrapWorker } = require('@vendure/core');
const { config } = require('./vendure-config');

bootstrapWorker(config)
    .then(worker => worker.startJobQueue())
    .catch(err => {
        console.error(err);
        process.exit(1);
    });
