// The JSON API is the dashboard's only contract. Errors arrive as ApiError with the service's
// code and message; a 401 signs out, which brings the sign-in form back.
import { credentialRefused, headers } from "./auth.js";
import { config } from "./config.js";

export class ApiError extends Error {
  constructor(status, code, message, details = null, extra = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.extra = extra;
  }
}

// The API's origin when the dashboard is served elsewhere (config.json); the first API call
// waits for it (no round trip before rendering).
let base = "";
const configured = config.then((settings) => {
  base = String(settings.apiBaseUrl || "").replace(/\/+$/, "");
});

export function apiUrl(path) {
  return base + path;
}

export async function request(path, { method = "GET", body, signal } = {}) {
  const init = { method, headers: { ...(await headers()), Accept: "application/json" }, signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  await configured;
  let response;
  try {
    response = await fetch(apiUrl(path), init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "unreachable", "The service did not answer. Is it running?");
  }
  if (response.status === 401) {
    credentialRefused();
    throw new ApiError(401, "unauthorized", "Sign in again.");
  }
  if (!response.ok) {
    let error = {};
    let extra = {};
    try {
      const document = await response.json();
      error = document.error || {};
      extra = document;
    } catch {
      error = {};
    }
    throw new ApiError(
      response.status,
      error.code || "http_" + response.status,
      error.message || `The service answered ${response.status}.`,
      error.details || null,
      extra,
    );
  }
  return response;
}

export async function getJson(path, options) {
  const response = await request(path, options);
  return response.status === 204 ? null : response.json();
}

export function send(method, path, body) {
  return getJson(path, { method, body });
}

export function query(params) {
  const entries = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "");
  return entries.length ? "?" + new URLSearchParams(entries).toString() : "";
}

// Save what the API answers as a file (reports need the credentials header, so no plain link).
export async function download(path, filename) {
  const response = await request(path);
  saveBlob(await response.blob(), filename);
}

export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
