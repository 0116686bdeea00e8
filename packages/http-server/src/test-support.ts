// The crash tests' ports, kept here under their old name; the CLI takes them from the package itself.
export { releaseRestartablePorts, restartablePort, restartablePorts } from './ports.ts';
