/**
 * The typed API client. Types come from src/api/schema.d.ts, generated from the server's OpenAPI document
 * (`npm run export:api && npm run gen:api`); nothing here restates a request or response shape.
 */
import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema';
import { currentLanguage } from '../i18n';
import { ApiError } from './errors';

export type Schemas = components['schemas'];

const TOKEN_KEY = 'omniloop.token';

export function getToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage unavailable */
  }
}

let onUnauthorized: (() => void) | null = null;

/** Called (once per 401) when the server rejects the token: the auth layer clears state and goes to /login. */
export function setUnauthorizedHandler(handler: (() => void) | null): void {
  onUnauthorized = handler;
}

const auth: Middleware = {
  onRequest({ request }) {
    const token = getToken();
    if (token) request.headers.set('Authorization', `Bearer ${token}`);
    request.headers.set('Accept-Language', currentLanguage());
    return request;
  },
  onResponse({ request, response }) {
    const isLogin = new URL(request.url).pathname === '/api/auth/login';
    if (response.status === 401 && !isLogin && getToken()) {
      setToken(null);
      onUnauthorized?.();
    }
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: window.location.origin });
api.use(auth);

type Result<T> = { data?: T; error?: unknown; response: Response };

/** Await an openapi-fetch call and return its data, or throw an ApiError carrying the server's message. */
export async function unwrap<T>(call: Promise<Result<T>>): Promise<T> {
  let result: Result<T>;
  try {
    result = await call;
  } catch (exc) {
    throw ApiError.network(exc);
  }
  if (!result.response.ok) {
    throw ApiError.fromBody(result.response.status, result.error);
  }
  return result.data as T;
}
