// Types for the parts of the untyped `lz4js` package that Strom uses.
export function compress(src: Uint8Array, maxSize?: number): Uint8Array;
export function decompress(src: Uint8Array, maxSize?: number): Uint8Array;
