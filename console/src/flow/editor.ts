import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap } from '@codemirror/autocomplete';
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { json, jsonParseLinter } from '@codemirror/lang-json';
import { bracketMatching, defaultHighlightStyle, foldGutter, foldKeymap, indentOnInput, syntaxHighlighting } from '@codemirror/language';
import { linter, lintGutter, setDiagnostics, type Diagnostic } from '@codemirror/lint';
import { Compartment, EditorState } from '@codemirror/state';
import { drawSelection, EditorView, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from '@codemirror/view';
import type { Finding } from '../api';
import schema from '../../../flows/flow.schema.json';
import { nodeAtPath, schemaCompletion, type Schema } from './schema-complete';

/** The JSON editor of the agent page (loaded on demand: it is most of the console's code). */
export interface FlowEditor {
  getText(): string;
  /** Replaces the text (a server copy) without counting as an edit. */
  setText(text: string): void;
  setReadOnly(readOnly: boolean): void;
  /** Moves the cursor to a validator path (e.g. `$.nodes[3]`) and scrolls it into view. */
  reveal(path: string): void;
  /** Shows the server's findings in the gutter. */
  showFindings(findings: (Finding & { level: 'error' | 'warning' })[]): void;
  destroy(): void;
}

export function createFlowEditor(
  parent: HTMLElement,
  opts: { text: string; readOnly: boolean; onChange: (text: string) => void; onSave: () => void; label: string },
): FlowEditor {
  const ro = new Compartment();
  let quiet = false;
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: opts.text,
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        foldGutter(),
        history(),
        drawSelection(),
        indentOnInput(),
        bracketMatching(),
        closeBrackets(),
        highlightActiveLine(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        json(),
        EditorView.lineWrapping,
        linter(jsonParseLinter(), { delay: 300 }),
        lintGutter(),
        autocompletion({ override: [schemaCompletion(schema as unknown as Schema)], activateOnTyping: true }),
        // Tab is left to move focus (keyboard users must be able to leave the editor).
        keymap.of([
          { key: 'Mod-s', preventDefault: true, run: () => (opts.onSave(), true) },
          ...closeBracketsKeymap,
          ...defaultKeymap,
          ...historyKeymap,
          ...foldKeymap,
          ...completionKeymap,
        ]),
        ro.of(EditorState.readOnly.of(opts.readOnly)),
        // tabindex: reachable (and scrollable with the arrows) by keyboard even when read-only.
        EditorView.contentAttributes.of({ 'aria-label': opts.label, tabindex: '0' }),
        EditorView.updateListener.of((u) => {
          if (u.docChanged && !quiet) opts.onChange(u.state.doc.toString());
        }),
      ],
    }),
  });

  return {
    getText: () => view.state.doc.toString(),
    setText(text) {
      quiet = true;
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
      quiet = false;
    },
    setReadOnly(readOnly) {
      view.dispatch({ effects: ro.reconfigure(EditorState.readOnly.of(readOnly)) });
    },
    reveal(path) {
      const n = nodeAtPath(view.state, path);
      if (!n) return;
      view.dispatch({ selection: { anchor: n.from }, effects: EditorView.scrollIntoView(n.from, { y: 'center' }) });
    },
    showFindings(findings) {
      const diags: Diagnostic[] = [];
      for (const f of findings) {
        const n = nodeAtPath(view.state, f.path);
        if (!n) continue;
        const line = view.state.doc.lineAt(n.from);
        diags.push({ from: n.from, to: Math.min(n.to, line.to), severity: f.level, message: `${f.code}: ${f.message}` });
      }
      view.dispatch(setDiagnostics(view.state, diags));
    },
    destroy: () => view.destroy(),
  };
}
