"""Lambda's Node.js runtime on the local stage: the worker bootstrap (``bootstrap.mjs``
and the modules beside it, run by Node), the AWS SDK v3 the runtime provides
(``sdk/``, installed from npm into the per-user cache), and ``sam build``'s builds of
Node functions (npm dependencies, esbuild bundles)."""
