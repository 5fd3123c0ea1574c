// Helpers of the network suites (network_test, network_hostwide_test,
// network_native_test): a published port's answer on the host's loopback
// and the busybox httpd that gives it.

/** GET http://127.0.0.1:port/ → body, or null when nothing answers. */
export async function get(port: number): Promise<string | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(3000) });
    return await r.text();
  } catch {
    return null;
  }
}

/** A busybox httpd on 8080 serving `text`. */
export function httpd(text: string): string[] {
  return [
    "sh",
    "-c",
    `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 8080 -h /www`,
  ];
}
