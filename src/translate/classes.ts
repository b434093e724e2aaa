// IngressClass selection: which Ingresses are ours. Anything not selected is ignored entirely:
// no routes, no diagnostics, no status, because another controller may own it.
import type { Ingress } from '../model/kube.ts';
import type { TranslateOptions } from '../model/table.ts';
import type { SnapshotIndex } from './snapshot-index.ts';

export const LEGACY_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';
export const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';

export type ClassDecision = 'className' | 'classNameLenient' | 'legacyAnnotation' | 'defaultClass' | 'foreign';

/**
 * Decides whether an Ingress is ours, and why:
 * 1. `spec.ingressClassName` naming an IngressClass whose `spec.controller` is ours;
 * 2. `spec.ingressClassName` equal to our class name when no IngressClass of that name exists
 *    (lenient like ingress-nginx: a manifests directory or a cluster without the class object still works;
 *    an existing IngressClass of that name owned by another controller is respected);
 * 3. no class field, and the legacy `kubernetes.io/ingress.class` annotation equal to our class name;
 * 4. no class field and no annotation, and one of our IngressClasses is marked default.
 */
export function classDecision(ingress: Ingress, index: SnapshotIndex, options: TranslateOptions, weAreDefault: boolean): ClassDecision {
  const className = ingress.spec?.ingressClassName;
  if (className !== undefined && className !== '') {
    const ic = index.ingressClasses.get(className);
    if (ic) return ic.spec?.controller === options.controllerClass ? 'className' : 'foreign';
    return className === options.ingressClass ? 'classNameLenient' : 'foreign';
  }
  const legacy = ingress.metadata.annotations?.[LEGACY_CLASS_ANNOTATION];
  if (legacy !== undefined) return legacy === options.ingressClass ? 'legacyAnnotation' : 'foreign';
  return weAreDefault ? 'defaultClass' : 'foreign';
}

/** Whether one of our IngressClasses carries the default-class annotation. */
export function isDefaultClassOurs(index: SnapshotIndex, options: TranslateOptions): boolean {
  for (const ic of index.ingressClasses.values()) {
    if (ic.spec?.controller === options.controllerClass && ic.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true') return true;
  }
  return false;
}
