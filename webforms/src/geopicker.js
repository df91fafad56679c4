/**
 * enketo-core's geopoint widget without what would fetch from outside our server: no place search (Google's
 * geocoder) and a map only when the server has a tile server of its own (ZOUFANG_TILE_URL, see config.js).
 */
import Geopicker from 'enketo-core/src/widget/geo/geopicker';
import config from 'enketo/config';

export default class LocalGeopicker extends Geopicker {
    get props() {
        const props = super.props;
        props.map = props.map && config.maps.length > 0;
        props.search = false;
        return props;
    }
}
