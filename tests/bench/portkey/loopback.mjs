// Preloaded into Portkey's gateway by tests/bench/portkey.sh (node --import).
// Its CLI takes only --port and @hono/node-server then listens on every
// interface; the benchmark keeps everything on loopback, so a listen() call
// given only a port is bound to 127.0.0.1 instead.
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && (args[1] === undefined || typeof args[1] === 'function')) {
    // listen(port), listen(port, cb), listen(port, undefined, cb) (@hono/node-server)
    if (args.length >= 2 && args[1] === undefined) args[1] = '127.0.0.1';
    else args.splice(1, 0, '127.0.0.1');
  } else if (args[0] && typeof args[0] === 'object' && args[0].port !== undefined && !args[0].host && !args[0].path) {
    args[0] = { ...args[0], host: '127.0.0.1' };
  }
  return listen.apply(this, args);
};
