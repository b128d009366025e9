// bench/envelope's Express peer: the stack portcullis's design came from.
// Verifies the bearer token like the gateway does (signature, exp, iss,
// aud, a role), adds the identity headers, and proxies /api/* to the
// upstream with a keep-alive agent.
//
// usage: node server.js PORT UPSTREAM_URL WORKERS   (env: BENCH_JWT_SECRET,
// BENCH_ISSUER, BENCH_AUDIENCE, BENCH_ROLE). WORKERS > 1 forks a cluster.
"use strict";
const cluster = require("node:cluster");
const http = require("node:http");
const express = require("express");
const jwt = require("jsonwebtoken");
const { createProxyMiddleware } = require("http-proxy-middleware");

const [port, upstream, workers] = [process.argv[2], process.argv[3], Number(process.argv[4] || 1)];
const { BENCH_JWT_SECRET: secret, BENCH_ISSUER: issuer, BENCH_AUDIENCE: audience, BENCH_ROLE: role } =
  process.env;

if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on("exit", () => process.exit(1));
} else {
  const app = express();
  app.disable("x-powered-by");
  app.use("/api", (req, res, next) => {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization || "");
    if (!m) return res.status(401).json({ error: "unauthorized" });
    let claims;
    try {
      claims = jwt.verify(m[1], secret, { algorithms: ["HS256"], issuer, audience });
    } catch {
      return res.status(401).json({ error: "unauthorized" });
    }
    if (!Array.isArray(claims.roles) || !claims.roles.includes(role)) {
      return res.status(403).json({ error: "forbidden" });
    }
    req.headers["x-user-id"] = claims.sub;
    req.headers["x-user-roles"] = claims.roles.join(",");
    delete req.headers.authorization;
    next();
  });
  app.use(
    "/api",
    createProxyMiddleware({
      target: upstream,
      agent: new http.Agent({ keepAlive: true, maxSockets: 256 }),
    }),
  );
  app.listen(Number(port), "127.0.0.1");
}
