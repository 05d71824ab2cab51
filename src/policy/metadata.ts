/**
 * `metadata` of every policy document, Kubernetes-shaped: a name (unique per kind in a set),
 * an optional namespace and annotations (`chio.dev/shadow: "true"` puts a policy in shadow
 * mode). Other Kubernetes fields (labels, uid, …) are allowed and ignored.
 */
import { z } from 'zod';

export const metadataSchema = z.looseObject({
  name: z.string().min(1).max(253),
  namespace: z.string().max(253).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
