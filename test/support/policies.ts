/** Policy sets that integration tests write and change while Chio runs. */

/** Trusts the demo capability issuer from the key directory. */
export const DEMO_AUTHORITY = `apiVersion: chio.dev/v1
kind: CapabilityAuthority
metadata: { name: demo }
spec: { issuerKeyFiles: [demo-issuer.pub] }
`;

/** Allows any request holding a valid demo capability to the given path patterns (YAML list items). */
export const allowTools = (paths: string) => `${DEMO_AUTHORITY}---
apiVersion: chio.dev/v1
kind: AuthorizationPolicy
metadata: { name: tools }
spec:
  rules:
    - to: [{ operation: { paths: [${paths}] } }]
      when: [{ key: capability.id, values: ["*"] }]
`;
