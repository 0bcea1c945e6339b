/** Debian's Chromium, driven by playwright-core, as the end-to-end tests run it. */
export const CHROMIUM = "/usr/bin/chromium";

/** What a headless run in a container needs, and nothing that changes what WebRTC does. */
export const PLAIN_CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export const CHROMIUM_ARGS = [
  ...PLAIN_CHROMIUM_ARGS,
  "--allow-loopback-in-peer-connection",
  // coturn's TLS certificate is self-signed, made for this run.
  "--ignore-certificate-errors",
];
