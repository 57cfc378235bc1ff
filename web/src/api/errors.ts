import i18n from '../i18n';
import type { components } from './schema';

/**
 * The server's error envelope `{"error": {code, message, message_zh, message_en, details}}`
 * (ErrorResponse in the OpenAPI document). Bodies from proxies or crashes may not have it, so it is
 * still read defensively.
 */
type ErrorEnvelope = Partial<components['schemas']['ErrorDetail']>;

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly messageZh?: string;
  readonly messageEn?: string;
  readonly details: unknown;

  constructor(status: number, code: string, message: string, extra: Partial<ErrorEnvelope> = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.messageZh = extra.message_zh;
    this.messageEn = extra.message_en;
    this.details = extra.details;
  }

  static fromBody(status: number, body: unknown): ApiError {
    const envelope =
      body && typeof body === 'object' && 'error' in body && body.error && typeof body.error === 'object'
        ? (body.error as ErrorEnvelope)
        : undefined;
    const message = envelope?.message || i18n.t('app.unknownError') + ` (HTTP ${status})`;
    return new ApiError(status, envelope?.code ?? 'http_error', message, envelope ?? {});
  }

  static network(cause: unknown): ApiError {
    const err = new ApiError(0, 'network_error', i18n.t('app.networkError'));
    (err as { cause?: unknown }).cause = cause;
    return err;
  }

  /** The message in the console's current language (the server answered in the language of the request). */
  localized(): string {
    const lang = i18n.language;
    if (lang === 'en' && this.messageEn) return this.messageEn;
    if (lang !== 'en' && this.messageZh) return this.messageZh;
    return this.message;
  }

  /** Field-level validation messages from a 422, as "field: msg" lines. */
  fieldErrors(): string[] {
    if (!Array.isArray(this.details)) return [];
    return this.details
      .filter((d): d is { loc?: string[]; msg?: string } => !!d && typeof d === 'object')
      .map((d) => `${(d.loc ?? []).filter((p) => p !== 'body' && p !== 'query').join('.')}: ${d.msg ?? ''}`);
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) {
    const fields = err.fieldErrors();
    return fields.length ? `${err.localized()}: ${fields.join('; ')}` : err.localized();
  }
  if (err instanceof Error) return err.message;
  return i18n.t('app.unknownError');
}
