/**
 * Errors of the ISO 8583 codec. Decoding never throws: it returns an IsoDecodeFailure.
 * Encoding our own messages throws IsoEncodeError, because a bad value there is a
 * programming error on the host side, not outside input.
 */

export type IsoErrorCode =
  | 'EMPTY'
  | 'TOO_LARGE'
  | 'TRUNCATED'
  | 'TRAILING_BYTES'
  | 'BAD_MTI'
  | 'BAD_BITMAP'
  | 'UNKNOWN_FIELD'
  | 'BAD_LENGTH'
  | 'BAD_CHARSET'
  | 'BAD_TYPE'
  | 'MAC_POSITION'
  | 'BAD_SUBFIELD'
  | 'UNKNOWN_SUBFIELD'
  | 'INTERNAL';

export interface IsoDecodeError {
  readonly code: IsoErrorCode;
  /** Data element number (1–128) the error is in, when known. */
  readonly field?: number;
  /** Sub-element number inside DE 48 / line index inside DE 63, when known. */
  readonly subfield?: number;
  /** Byte offset into the message (after the transport length header). */
  readonly offset?: number;
  /** MTI, when it could be read: lets the host answer 904 "format error" to the right class. */
  readonly mti?: string;
  readonly detail: string;
}

export class IsoEncodeError extends Error {
  readonly code: IsoErrorCode;
  readonly field: number | undefined;
  readonly subfield: number | undefined;
  constructor(code: IsoErrorCode, detail: string, field?: number, subfield?: number) {
    super(`${code}${field !== undefined ? ` DE ${field}` : ''}${subfield !== undefined ? `.${subfield}` : ''}: ${detail}`);
    this.name = 'IsoEncodeError';
    this.code = code;
    this.field = field;
    this.subfield = subfield;
  }
}

/** ISO 8583:1993 action code a host answers to a message it could not parse. */
export const FORMAT_ERROR_ACTION_CODE = '904';
