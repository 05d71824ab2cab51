/**
 * A port a service cannot listen on, said as the setting that chose it. Node's own
 * `listen EADDRINUSE: address already in use 127.0.0.1:9092` names neither the setting nor what
 * to do about it (another `chio up` in another directory takes the same default ports).
 */
import { ChioError } from './errors/index.js';

export function listenError(err: unknown, bind: string, port: number, setting: string | undefined): unknown {
  if (setting === undefined) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'EADDRINUSE') {
    return new ChioError('CONFIG_INVALID', `${setting}: port ${port} on ${bind} is already in use (another program, or another chio, listens there); set ${setting} to a free port, or 0 for any free port`, { cause: err });
  }
  if (code === 'EACCES') {
    return new ChioError('CONFIG_INVALID', `${setting}: not allowed to listen on port ${port} on ${bind} (ports below 1024 need privileges); set ${setting} to another port`, { cause: err });
  }
  return err;
}
