import { runEntryPoint } from '../cli.js';

// Deployment entry point for the HTTP API alone (workers run separately: worker/main.ts).
await runEntryPoint({
  name: 'api',
  description: 'the HTTP API v1 (set TEMPORAL_ADDRESS, DATABASE_URL and SMTP_URL in deployment)',
  parts: { worker: false, api: true },
});
