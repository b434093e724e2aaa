// Test support for translate(): turns multi-document YAML of Kubernetes objects into a Snapshot,
// so golden cases and router tests describe clusters the way users write them.
import { parseAllDocuments } from 'yaml';
import type { ConfigMap, EndpointSlice, Endpoints, Ingress, IngressClass, Secret, Service } from '../src/model/kube.ts';
import type { Snapshot } from '../src/model/snapshot.ts';
import type { TranslateOptions } from '../src/model/table.ts';

export const DEFAULT_OPTIONS: TranslateOptions = { ingressClass: 'wharf', controllerClass: 'wharf.dev/ingress-controller' };

export function snapshotFromYaml(text: string): Snapshot {
  const s = { ingresses: [] as Ingress[], ingressClasses: [] as IngressClass[], services: [] as Service[], endpointSlices: [] as EndpointSlice[], endpoints: [] as Endpoints[], secrets: [] as Secret[], configMaps: [] as ConfigMap[] };
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`bad YAML: ${doc.errors[0]!.message}`);
    const obj = doc.toJS() as { kind?: string } | null;
    if (obj === null) continue;
    switch (obj.kind) {
      case 'Ingress': s.ingresses.push(obj as Ingress); break;
      case 'IngressClass': s.ingressClasses.push(obj as IngressClass); break;
      case 'Service': s.services.push(obj as Service); break;
      case 'EndpointSlice': s.endpointSlices.push(obj as EndpointSlice); break;
      case 'Endpoints': s.endpoints.push(obj as Endpoints); break;
      case 'Secret': s.secrets.push(obj as Secret); break;
      case 'ConfigMap': s.configMaps.push(obj as ConfigMap); break;
      default: throw new Error(`unexpected kind ${String(obj.kind)}`);
    }
  }
  return s;
}
