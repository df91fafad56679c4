/**
 * enketo-core's photo widget, resizing as Collect does (the form's max-pixels) but keeping the photo's EXIF: the
 * time and place it was taken are the visit's evidence (sync/evidence.py). The browser's canvas drops them, so the
 * original's EXIF segment is put back into the resized JPEG, with its orientation set to upright (the canvas has
 * already turned the pixels).
 */
import Filepicker from 'enketo-core/src/widget/file/filepicker';

const SOI = 2; // the JPEG's first marker, FFD8
const ORIENTATION = 0x0112;

/** The APP1 "Exif" segment of a JPEG (marker and length included), or null. */
function exifSegment(bytes) {
    let at = SOI;
    while (at + 4 <= bytes.length && bytes[at] === 0xff) {
        const marker = bytes[at + 1];
        const length = (bytes[at + 2] << 8) | bytes[at + 3];
        if (marker === 0xda || marker === 0xd9) {
            return null; // the image data starts: no EXIF before it
        }
        const isExif = marker === 0xe1 && String.fromCharCode(...bytes.subarray(at + 4, at + 8)) === 'Exif';
        if (isExif) {
            return bytes.slice(at, at + 2 + length);
        }
        at += 2 + length;
    }
    return null;
}

/** The segment with its Orientation tag (IFD0) set to 1, in place. */
function upright(segment) {
    const tiff = 10; // FFE1, length, "Exif\0\0"
    const view = new DataView(segment.buffer, segment.byteOffset, segment.byteLength);
    const little = view.getUint16(tiff) === 0x4949;
    const ifd = tiff + view.getUint32(tiff + 4, little);
    if (ifd + 2 > segment.length) {
        return segment;
    }
    const count = view.getUint16(ifd, little);
    for (let entry = ifd + 2; entry < ifd + 2 + count * 12 && entry + 12 <= segment.length; entry += 12) {
        if (view.getUint16(entry, little) === ORIENTATION) {
            view.setUint16(entry + 8, 1, little);
        }
    }
    return segment;
}

function dataUri(blob) {
    return new Promise((resolve, reject) => {
        const reader = new FileReader();
        reader.addEventListener('load', () => resolve(reader.result));
        reader.addEventListener('error', reject);
        reader.readAsDataURL(blob);
    });
}

export default class ExifKeepingFilepicker extends Filepicker {
    async _resizeFile(file, mediaType) {
        const resized = await super._resizeFile(file, mediaType);
        if (resized.blob === file || !/^image\/jpe?g$/i.test(file.type)) {
            return resized;
        }
        const exif = exifSegment(new Uint8Array(await file.arrayBuffer()));
        if (!exif) {
            return resized;
        }
        const bytes = new Uint8Array(await resized.blob.arrayBuffer());
        const blob = new Blob([bytes.subarray(0, SOI), upright(exif), bytes.subarray(SOI)], { type: 'image/jpeg' });
        return { blob, dataURI: await dataUri(blob) };
    }
}
