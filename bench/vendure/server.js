// The Vendure server process (HTTP: shop and admin APIs, assets). Start it with start.sh.
'use strict';
const { bootstrap } = require('@vendure/core');
const { config } = require('./vendure-config');

bootstrap(config).catch(err => {
    console.error(err);
    process.exit(1);
});
