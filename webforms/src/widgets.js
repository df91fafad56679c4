/**
 * The enketo-core widgets our forms need (forms/xlsforms): fewer widgets, a smaller script for a phone on a weak
 * signal. A form that uses another widget type still works with the plain input.
 */
import note from 'enketo-core/src/widget/note/notewidget';
import selectDesktop from 'enketo-core/src/widget/select-desktop/selectpicker';
import selectMobile from 'enketo-core/src/widget/select-mobile/selectpicker';
import autocomplete from 'enketo-core/src/widget/select-autocomplete/autocomplete';
import geopicker from './geopicker.js';
import textarea from 'enketo-core/src/widget/textarea/textarea';
import radio from 'enketo-core/src/widget/radio/radiopicker';
import dateExtended from 'enketo-core/src/widget/date/datepicker-extended';
import dateMobile from 'enketo-core/src/widget/date-mobile/datepicker-mobile';
import dateNative from 'enketo-core/src/widget/date-native/datepicker-native';
import dateNativeIos from 'enketo-core/src/widget/date-native-ios/datepicker-native-ios';
import filepicker from './filepicker.js';
import textMax from 'enketo-core/src/widget/text-max/text-max';
import decimalInput from 'enketo-core/src/widget/number-input/decimal-input';
import integerInput from 'enketo-core/src/widget/number-input/integer-input';

export default [note, selectDesktop, selectMobile, autocomplete, geopicker, textarea, radio, dateExtended, dateMobile,
    dateNative, dateNativeIos, filepicker, textMax, decimalInput, integerInput];
