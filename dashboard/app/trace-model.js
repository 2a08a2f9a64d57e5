// The trace matrix REQ -> US -> SPEC -> TC built from a repository scan's artifacts: one block
// per requirement, gaps named, everything not reached from a requirement listed apart.

const GOOD = new Set(["APPROVED", "VALIDATED", "VERIFIED"]);
const PROGRESS = new Set(["IMPLEMENTED", "IN_REVIEW", "IN_PROGRESS"]);
const DRAFT = new Set(["DRAFT", "PROPOSED"]);

// ok | progress | draft | bad: the colour of a cell.
export function state(artifact) {
  const validation = artifact.validationStatus || "";
  const status = artifact.status || "";
  if (GOOD.has(validation) || (GOOD.has(status) && !validation)) return "ok";
  if (validation === "REJECTED" || status === "DEPRECATED" || status === "OBSOLETE") return "bad";
  if (PROGRESS.has(status) || PROGRESS.has(validation)) return "progress";
  if (DRAFT.has(status) || DRAFT.has(validation)) return "draft";
  return "bad";
}

const byIdOrder = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export function buildMatrix(artifacts) {
  const byId = new Map();
  const children = new Map();
  for (const artifact of artifacts) {
    if (!byId.has(artifact.id)) byId.set(artifact.id, artifact);
    for (const parent of artifact.parents) {
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(artifact);
    }
  }
  const childrenOf = (artifact, type) => (children.get(artifact.id) || []).filter((c) => c.type === type).sort(byIdOrder);
  const shown = new Set();
  const blocks = [];
  for (const req of artifacts.filter((a) => a.type === "REQ").sort(byIdOrder)) {
    shown.add(req);
    const stories = [];
    for (const story of childrenOf(req, "US")) {
      shown.add(story);
      const specIds = [...new Set([...story.specifications, ...childrenOf(story, "SPEC").map((s) => s.id)])];
      const specs = specIds.map((id) => {
        const spec = byId.get(id);
        if (!spec) return { spec: null, gap: `${id} missing`, tests: [{ test: null, gap: "no test" }] };
        shown.add(spec);
        const tests = childrenOf(spec, "TC");
        tests.forEach((t) => shown.add(t));
        return { spec, gap: null, tests: tests.length ? tests.map((test) => ({ test })) : [{ test: null, gap: "no test" }] };
      });
      const direct = childrenOf(story, "TC");
      direct.forEach((t) => shown.add(t));
      if (direct.length) specs.push({ spec: null, gap: specs.length ? null : "no specification", tests: direct.map((test) => ({ test })) });
      if (!specs.length) specs.push({ spec: null, gap: "no specification", tests: [{ test: null, gap: "no test" }] });
      stories.push({ story, specs });
    }
    blocks.push({ req, stories, gaps: countGaps(stories) });
  }
  const untraced = artifacts.filter((a) => !shown.has(a)).sort(byIdOrder);
  return { blocks, untraced };
}

function countGaps(stories) {
  if (!stories.length) return 1;
  let gaps = 0;
  for (const { specs } of stories) {
    for (const { gap, tests } of specs) {
      if (gap) gaps += 1;
      gaps += tests.filter((t) => t.gap).length;
    }
  }
  return gaps;
}

// Rows of one block: each row is a list of cells {artifact | gap, rowspan}.
export function blockRows(block) {
  const rows = [];
  if (!block.stories.length) {
    rows.push([{ artifact: block.req, rowspan: 1 }, { gap: "no story", rowspan: 1 }, { empty: true, rowspan: 1 }, { empty: true, rowspan: 1 }]);
    return rows;
  }
  const reqSpan = block.stories.reduce((n, s) => n + s.specs.reduce((m, sp) => m + sp.tests.length, 0), 0);
  let firstReq = true;
  for (const { story, specs } of block.stories) {
    const storySpan = specs.reduce((m, sp) => m + sp.tests.length, 0);
    let firstStory = true;
    for (const { spec, gap, tests } of specs) {
      let firstSpec = true;
      for (const { test, gap: testGap } of tests) {
        const row = [];
        if (firstReq) row.push({ artifact: block.req, rowspan: reqSpan });
        if (firstStory) row.push({ artifact: story, rowspan: storySpan });
        if (firstSpec) row.push(spec ? { artifact: spec, rowspan: tests.length } : gap ? { gap, rowspan: tests.length } : { empty: true, rowspan: tests.length });
        row.push(test ? { artifact: test, rowspan: 1 } : { gap: testGap, rowspan: 1 });
        rows.push(row);
        firstReq = firstStory = firstSpec = false;
      }
    }
  }
  return rows;
}

export function blockMatches(block, needle) {
  if (!needle) return true;
  const hit = (a) => a && (a.id.toLowerCase().includes(needle) || a.title.toLowerCase().includes(needle) || a.file.toLowerCase().includes(needle));
  if (hit(block.req)) return true;
  return block.stories.some(({ story, specs }) => hit(story) || specs.some(({ spec, tests }) => hit(spec) || tests.some(({ test }) => hit(test))));
}
