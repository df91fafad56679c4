/** enketo-core's dialogs, in Chinese through the browser's own (the engine asks before removing a photo or a repeat). */
import { t } from './translator.js';

function text(content) {
    if (typeof content === 'string') {
        return content;
    }
    return [content.heading, content.msg || content.message].filter(Boolean).join('\n');
}

export default {
    alert: (content) => {
        window.alert(text(content));
        return Promise.resolve();
    },
    confirm: (content) => Promise.resolve(window.confirm(text(content) || t('confirm.repeatremove.msg'))),
    prompt: (content, value) => Promise.resolve(window.prompt(text(content), value)),
};
