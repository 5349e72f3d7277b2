/**
 * Every error the platform returns has a stable code from a closed catalogue.
 * Each module defines its codes with `defineErrors`; the composition root
 * gathers them into docs/errors.md. Tests assert on codes, never on text.
 */
export interface ErrorSpec {
  /** HTTP status when this error ends a request. */
  readonly status: number;
  /** ISO 8583:1993 action code (DE 39) when a terminal receives it. */
  readonly iso: string;
  readonly zh: string;
  readonly en: string;
}

export type ErrorTable = Readonly<Record<string, ErrorSpec>>;

export class AppError extends Error {
  constructor(
    readonly code: string,
    readonly spec: ErrorSpec,
    readonly details?: Record<string, unknown>,
    message?: string,
  ) {
    super(message ?? `${spec.zh} / ${spec.en}`);
    this.name = 'AppError';
  }
  get status(): number {
    return this.spec.status;
  }
}

export type ErrorFactory<T extends ErrorTable> = {
  readonly table: T;
  readonly module: string;
  /** Build the error for `code`, with optional details (field names, ids, limits). */
  (code: keyof T & string, details?: Record<string, unknown>, message?: string): AppError;
};

export function defineErrors<const T extends ErrorTable>(module: string, table: T): ErrorFactory<T> {
  const make = ((code: keyof T & string, details?: Record<string, unknown>, message?: string) => {
    const spec = table[code];
    if (!spec) throw new Error(`unknown error code ${code}`);
    return new AppError(code, spec, details, message);
  }) as ErrorFactory<T>;
  Object.defineProperty(make, 'table', { value: table });
  Object.defineProperty(make, 'module', { value: module });
  return make;
}

/** Errors of the platform itself: input, auth, idempotency, infrastructure. */
export const platformError = defineErrors('platform', {
  VALIDATION_FAILED: { status: 400, iso: '904', zh: '请求参数不正确', en: 'The request is not valid' },
  MALFORMED_JSON: { status: 400, iso: '904', zh: '请求体不是有效的 JSON', en: 'The request body is not valid JSON' },
  PAYLOAD_TOO_LARGE: { status: 413, iso: '904', zh: '请求体过大', en: 'The request body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, iso: '904', zh: '不支持的内容类型', en: 'Unsupported content type' },
  NOT_FOUND: { status: 404, iso: '902', zh: '资源不存在', en: 'Not found' },
  ROUTE_NOT_FOUND: { status: 404, iso: '902', zh: '接口不存在', en: 'No such route' },
  METHOD_NOT_ALLOWED: { status: 405, iso: '902', zh: '不支持该方法', en: 'Method not allowed' },
  UNAUTHENTICATED: { status: 401, iso: '916', zh: '未登录或登录已过期', en: 'Not authenticated or session expired' },
  INVALID_CREDENTIALS: { status: 401, iso: '916', zh: '用户名或密码错误', en: 'Wrong username or password' },
  FORBIDDEN: { status: 403, iso: '119', zh: '无权执行此操作', en: 'Your role may not do this' },
  TERMINAL_SIGNATURE_INVALID: { status: 401, iso: '916', zh: '终端签名无效', en: 'Terminal signature is invalid' },
  TERMINAL_TIMESTAMP_SKEW: { status: 401, iso: '916', zh: '终端时间戳超出允许范围', en: 'Terminal timestamp is too far from server time' },
  TERMINAL_NONCE_REPLAYED: { status: 401, iso: '913', zh: '重复的终端请求（随机数已使用）', en: 'Terminal nonce was already used (replay)' },
  TERMINAL_UNKNOWN: { status: 401, iso: '916', zh: '终端未注册或已停用', en: 'Terminal is unknown or disabled' },
  IDEMPOTENCY_KEY_INVALID: { status: 400, iso: '904', zh: '幂等键格式不正确', en: 'Idempotency-Key is not valid' },
  IDEMPOTENCY_KEY_REUSED: { status: 409, iso: '913', zh: '幂等键已用于不同的请求', en: 'Idempotency-Key was already used with a different request' },
  RATE_LIMITED: { status: 429, iso: '912', zh: '请求过于频繁', en: 'Too many requests' },
  SERVICE_UNAVAILABLE: { status: 503, iso: '912', zh: '服务暂不可用', en: 'Service unavailable' },
  INTERNAL: { status: 500, iso: '909', zh: '系统内部错误', en: 'Internal error' },
});

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}
