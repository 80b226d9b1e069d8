/** The mql-edge browser snippet. */
export const VERSION = "0.1.0";
