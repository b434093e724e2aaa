// wharf's version, read once from package.json so the CLI, logs and wharf_build_info agree.
// A JSON import keeps it synchronous and bundled with the sources.
import pkg from '../package.json' with { type: 'json' };

export const WHARF_VERSION: string = pkg.version;
