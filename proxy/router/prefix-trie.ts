// A trie over path segments for Prefix routes: one walk along the request path finds the longest
// prefix that matches element-wise, so lookup costs O(path length) however many prefixes a host has.
import type { Route } from '../../src/model/table.ts';

interface Node {
  children?: Map<string, Node>;
  route?: Route;
}

export class PrefixTrie {
  private readonly root: Node = {};
  size = 0;

  /** `prefix` is normalised (no trailing slash except `/` itself); the first route inserted for a prefix stays. */
  insert(prefix: string, route: Route): void {
    let node = this.root;
    if (prefix !== '/') {
      for (const segment of prefix.slice(1).split('/')) {
        node.children ??= new Map();
        let next = node.children.get(segment);
        if (!next) node.children.set(segment, (next = {}));
        node = next;
      }
    }
    if (!node.route) {
      node.route = route;
      this.size++;
    }
  }

  /**
   * The route of the longest prefix of `path`, element by element: `/aaa` matches `/aaa`, `/aaa/` and
   * `/aaa/bbb`, never `/aaaccc`. A trailing slash on the request is ignored, like one on the rule.
   */
  longest(path: string): Route | undefined {
    let node: Node | undefined = this.root;
    let best = node.route;
    let start = 1;
    const len = path.length;
    while (start <= len && node.children) {
      let end = path.indexOf('/', start);
      if (end < 0) end = len;
      // The empty segment after a trailing slash names nothing.
      if (end === len && start === len) break;
      node = node.children.get(path.slice(start, end));
      if (!node) break;
      if (node.route) best = node.route;
      start = end + 1;
    }
    return best;
  }
}
