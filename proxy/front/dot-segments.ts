// Refuses request paths with dot segments (`/./`, `/../`, also percent-encoded). wharf matches the
// raw path; a backend that resolves `..` itself could otherwise reach a route wharf did not match.

function isDotSegment(path: string, start: number, end: number): boolean {
  let dots = 0;
  let i = start;
  while (i < end) {
    const c = path.charCodeAt(i);
    if (c === 46 /* . */) {
      dots++;
      i++;
    } else if (c === 37 /* % */ && path.charCodeAt(i + 1) === 50 /* 2 */ && (path.charCodeAt(i + 2) | 0x20) === 101 /* e */) {
      dots++;
      i += 3;
    } else return false;
  }
  return dots === 1 || dots === 2;
}

/** True when some `/`-separated segment of the path is `.` or `..`, written plainly or as %2e. */
export function hasDotSegment(path: string): boolean {
  // Fast exit for the common path: no dot and no percent sign at all.
  if (path.indexOf('.') === -1 && path.indexOf('%') === -1) return false;
  let start = 0;
  for (let i = 0; i <= path.length; i++) {
    if (i === path.length || path.charCodeAt(i) === 47 /* / */) {
      if (i > start && isDotSegment(path, start, i)) return true;
      start = i + 1;
    }
  }
  return false;
}
