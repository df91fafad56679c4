/**
 * enketo-core's translator (it is meant to be replaced by the host's): every string the engine shows, in Chinese.
 * The keys are those of enketo-core's fake-translator.js and the XSL stylesheet's data-i18n attributes.
 */
const STRINGS = {
    constraint: { invalid: '填写的值不符合要求', required: '此项必填', relevant: '此项当前不适用' },
    filepicker: {
        placeholder: '点此拍照或选择图片（小于 __maxSize__）',
        notFound: '找不到文件 __existing__（若已提交过且想保留，请勿改动）。',
        waitingForPermissions: '正在等待授权……',
        resetWarning: '将删除这张__item__，确定吗？',
        toolargeerror: '文件太大（超过 __maxSize__）',
        file: '照片',
    },
    drawwidget: { drawing: '绘图', signature: '签名', annotation: '文件和绘图' },
    form: { required: '必填' },
    geopicker: {
        accuracy: '精度（米）',
        altitude: '海拔（米）',
        closepolygon: '闭合多边形',
        kmlcoords: 'KML 坐标',
        kmlpaste: '在此粘贴 KML 坐标',
        latitude: '纬度（度）',
        longitude: '经度（度）',
        points: '点',
        searchPlaceholder: '搜索地点或地址',
        removePoint: '将删除这个定位点，且无法恢复。确定吗？',
        bordersintersectwarning: '多边形的边不能相交。',
    },
    selectpicker: { noneselected: '未选择', numberselected: '已选 __number__ 项' },
    imagemap: { svgNotFound: '找不到 SVG 图片' },
    rankwidget: { tapstart: '点击开始', clickstart: '点击开始' },
    widget: { comment: { update: '更新' } },
    hint: { guidance: { details: '更多说明' } },
    alert: {
        gotonotfound: { msg: '表单中找不到题目“__path__”。' },
        valuehasspaces: { multiple: '多选题的值“__value__”含有空格，不能使用。' },
    },
    confirm: { repeatremove: { heading: '删除这一组回答？', msg: '删除后无法恢复，确定继续吗？' } },
};

/**
 * The Chinese string of a key, with its __name__ placeholders filled; an unknown key gives '' (never English).
 *
 * @param {string} key - dotted key, e.g. 'constraint.required'
 * @param {object} [options] - values for the placeholders
 * @return {string} the text
 */
export function t(key, options = {}) {
    const found = key.split('.').reduce((node, part) => (node && typeof node === 'object' ? node[part] : undefined), STRINGS);
    if (typeof found !== 'string') {
        return '';
    }
    return found.replace(/__([^_]+)__/g, (match, name) => (options[name] !== undefined ? options[name] : ''));
}

/** Texts the engine writes into its widgets without its translator (titles, aria labels, placeholders). */
const ATTRIBUTES = {
    'detect current location': '获取当前位置',
    remove: '删除',
    reset: '清除',
    download: '下载',
    'toggle input': '显示或隐藏输入框',
    point: '点',
    comment: '备注',
    undo: '撤销',
    'yyyy-mm-dd': '年-月-日',
    'hh:mm': '时:分',
};

/**
 * Puts the Chinese text into the elements the form's HTML marks with data-i18n, and into the English titles, aria
 * labels and placeholders the widgets write.
 *
 * @param {Element} root - the form, or a part of it just added
 */
export function localize(root) {
    root.querySelectorAll('[data-i18n]').forEach((element) => {
        const text = t(element.dataset.i18n);
        if (!text) {
            return;
        }
        if (element.tagName === 'INPUT' || element.tagName === 'TEXTAREA') {
            element.placeholder = text;
        } else {
            element.textContent = text;
        }
    });
    ['title', 'aria-label', 'placeholder'].forEach((attribute) => {
        root.querySelectorAll(`[${attribute}]`).forEach((element) => {
            const text = ATTRIBUTES[element.getAttribute(attribute)];
            if (text) {
                element.setAttribute(attribute, text);
            }
        });
    });
}
