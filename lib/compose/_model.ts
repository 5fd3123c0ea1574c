/**
 * The resolved Compose model: what `compose config` prints and `up`
 * creates from. Every field is normalised (long syntax, absolute paths,
 * environment resolved), so two files that mean the same give the same
 * model, and a service's config hash changes only when what it runs does.
 *
 * @module
 */

/** One published or exposed port (long syntax). */
export interface PortSpec {
  target: number;
  /** The host port; absent: a free one is chosen at create. */
  published?: number;
  /** Empty: every host address. */
  host_ip?: string;
  protocol: "tcp" | "udp";
}

/** One mount (long syntax). */
export interface VolumeMount {
  type: "bind" | "volume" | "tmpfs";
  /** bind: an absolute host path; volume: the name in the file (absent: anonymous); tmpfs: absent. */
  source?: string;
  target: string;
  read_only: boolean;
  /** tmpfs: its size in bytes. */
  tmpfs_size?: number;
}

/** A `depends_on` entry. */
export interface Dependency {
  condition: "service_started" | "service_healthy" | "service_completed_successfully";
  required: boolean;
}

/** A health check, as the file gives it (durations in ms). */
export interface Healthcheck {
  /** The command run by `sh -c` in the container. */
  test: string;
  interval_ms?: number;
  timeout_ms?: number;
  retries?: number;
  start_period_ms?: number;
}

/** A build section. */
export interface BuildSpec {
  /** Absolute. */
  context: string;
  dockerfile?: string;
  /** The stage to build up to. */
  target?: string;
  args: Record<string, string>;
}

/** One service. */
export interface Service {
  image?: string;
  build?: BuildSpec;
  /** Absent: the image's. */
  command?: string[];
  entrypoint?: string[];
  /** Resolved (env_file entries first, then `environment`); names without value dropped. */
  environment: Record<string, string>;
  ports: PortSpec[];
  expose: string[];
  volumes: VolumeMount[];
  /** Networks it joins (names in the file) with their aliases. */
  networks: Record<string, { aliases: string[] }>;
  depends_on: Record<string, Dependency>;
  links: string[];
  healthcheck?: Healthcheck;
  restart: "no" | "always" | "on-failure" | "unless-stopped";
  user?: string;
  working_dir?: string;
  hostname?: string;
  labels: Record<string, string>;
  container_name?: string;
  /** deploy.resources.limits. */
  limits: { memory?: number; cpus?: number; pids?: number };
  /** deploy.replicas or scale (default 1). */
  replicas: number;
  profiles: string[];
  pull_policy: "missing" | "always" | "never" | "build";
  read_only: boolean;
  cap_add: string[];
  cap_drop: string[];
  privileged: boolean;
  /** Seconds to wait for a stop (stop_grace_period; default 10). */
  stop_grace_period_s: number;
}

/** A top-level network. */
export interface NetworkDef {
  /** The berth network: `PROJECT_KEY`, or `name:`, or the external one. */
  name: string;
  external: boolean;
  subnet?: string;
  /** `internal: true`: no route out of the network. */
  internal?: boolean;
}

/** A top-level volume. */
export interface VolumeDef {
  /** The berth volume: `PROJECT_KEY`, or `name:`, or the external one. */
  name: string;
  external: boolean;
}

/** A whole project. */
export interface Project {
  name: string;
  /** The project directory (of the first file): relative paths are resolved from it. */
  working_dir: string;
  services: Record<string, Service>;
  networks: Record<string, NetworkDef>;
  volumes: Record<string, VolumeDef>;
}
