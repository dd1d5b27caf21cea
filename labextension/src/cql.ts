/**
 * CQL as a CodeMirror 6 stream language, for the text of a `%%cql` cell.
 *
 * The first line is the magic's own (`%%cql --out big --fetch-size 500`): the magic is styled as meta, its
 * options as attribute names. The rest is CQL: keywords, types (styled like builtins), `'strings'` and
 * `$$strings$$`, numbers and `0x` blobs, `-- `, `//` and block comments, `"quoted names"`, and `:name` markers
 * (the notebook variables a cell binds), which get a style of their own.
 */
import { StreamParser, StringStream } from '@codemirror/language';

const words = (text: string): Set<string> => new Set(text.split(/\s+/).filter(Boolean));

const KEYWORDS = words(`
  add aggregate all allow alter and apply as asc ascii authorize batch begin by called clustering columnfamily
  compact contains counter create custom default delete desc describe distinct drop entries execute exists
  filtering finalfunc from frozen full function functions grant group if in index infinity initcond input
  insert into is json key keys keyspace keyspaces language like limit list login logged materialized modify
  nan norecursive nosuperuser not null of on options or order partition password per permission permissions
  primary rename replace returns revoke role roles select set sfunc static storage stype superuser table
  tables text timestamp to token trigger truncate ttl tuple type unlogged unset update use user users using
  values view where with writetime maxwritetime
`);

const TYPES = words(`
  ascii bigint blob boolean counter date decimal double duration float frozen inet int list map set smallint
  text time timestamp timeuuid tinyint tuple uuid varchar varint vector
`);

const ATOMS = words('true false null nan infinity');

export interface CqlState {
  /** Lines seen so far (the magic's line is line 1). */
  line: number;
  /** Inside a block comment or a `$$...$$` string that spans lines. */
  inside: 'comment' | 'dollar' | null;
}

function continueInside(stream: StringStream, state: CqlState): string {
  const end = state.inside === 'comment' ? '*/' : '$$';
  const found = stream.string.indexOf(end, stream.pos);
  const token = state.inside === 'comment' ? 'comment' : 'string';
  if (found === -1) {
    stream.skipToEnd();
  } else {
    stream.pos = found + end.length;
    state.inside = null;
  }
  return token;
}

function magicLine(stream: StringStream): string | null {
  if (stream.eatSpace()) {
    return null;
  }
  if (stream.match(/^%%(cql|cassnb)\b/)) {
    return 'meta';
  }
  if (stream.match(/^--?[A-Za-z][\w-]*/)) {
    return 'attributeName';
  }
  if (stream.match(/^'([^'\\]|\\.)*'?/) || stream.match(/^"([^"\\]|\\.)*"?/)) {
    return 'string';
  }
  stream.match(/^[^\s'"]+/) || stream.next();
  return null;
}

export const cql: StreamParser<CqlState> = {
  name: 'cql',
  startState: () => ({ line: 0, inside: null }),
  copyState: state => ({ ...state }),
  blankLine: state => {
    state.line += 1;
  },
  token(stream, state) {
    if (stream.sol()) {
      state.line += 1;
    }
    if (state.inside !== null) {
      return continueInside(stream, state);
    }
    if (state.line === 1 && /^\s*%%/.test(stream.string)) {
      return magicLine(stream);
    }
    if (stream.eatSpace()) {
      return null;
    }
    if (stream.match('--') || stream.match('//')) {
      stream.skipToEnd();
      return 'comment';
    }
    if (stream.match('/*')) {
      state.inside = 'comment';
      return continueInside(stream, state);
    }
    if (stream.match('$$')) {
      state.inside = 'dollar';
      return continueInside(stream, state);
    }
    if (stream.match(/^'(?:[^']|'')*'?/)) {
      return 'string';
    }
    if (stream.match(/^"(?:[^"]|"")*"?/)) {
      return 'variableName';
    }
    if (stream.match(/^:[A-Za-z_]\w*/)) {
      return 'variableName.special';
    }
    if (stream.match(/^0x[0-9a-fA-F]*/)) {
      return 'number';
    }
    if (stream.match(/^-?\d+(\.\d+)?([eE][+-]?\d+)?/)) {
      return 'number';
    }
    if (stream.match(/^[A-Za-z_][\w$]*/)) {
      const word = stream.current().toLowerCase();
      // A type name that follows a column name is a type; `text`, `timestamp`... as keywords elsewhere.
      if (TYPES.has(word)) {
        return 'variableName.standard';
      }
      if (ATOMS.has(word)) {
        return 'atom';
      }
      if (KEYWORDS.has(word)) {
        return 'keyword';
      }
      return 'variableName';
    }
    if (stream.match(/^[=<>!+\-*/%]+/)) {
      return 'operator';
    }
    if (stream.match(/^[()[\]{}]/)) {
      return 'bracket';
    }
    stream.next();
    return 'punctuation';
  },
  languageData: {
    commentTokens: { line: '--', block: { open: '/*', close: '*/' } }
  }
};
