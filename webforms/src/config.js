/**
 * enketo-core's configuration. Map layers only from the server's own tile server (the page's data-tiles, from
 * ZOUFANG_TILE_URL): no request leaves our server, and without one the geopoint question shows its fields and the
 * 获取当前位置 button. Validation page by page, as Collect does.
 */
const tiles = document.getElementById('fill')?.dataset.tiles || '';

export default {
    experimentalOptimizations: { computeAsync: false },
    excludeNonRelevant: false,
    maps: tiles ? [{ name: 'streets', tiles: [tiles], attribution: '' }] : [],
    googleApiKey: '',
    repeatOrdinals: false,
    validateContinuously: false,
    validatePage: true,
    swipePage: false,
    textMaxChars: 2000,
};
