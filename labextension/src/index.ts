/**
 * cassnb's JupyterLab / Notebook 7 extension: a `%%cql` (or `%%cassnb`) cell is edited as CQL.
 *
 * It registers a CQL language with the editor, and follows every notebook: a code cell whose first line
 * starts with `%%cql` gets the CQL mime type, and goes back to the notebook's own (Python) when that line
 * changes. The notebook resets every cell's mime type when the kernel's language info arrives, so the cells
 * are looked at again then.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { CodeMirrorEditor, IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { Cell, ICellModel } from '@jupyterlab/cells';
import { language, LanguageSupport, StreamLanguage } from '@codemirror/language';

import { cql } from './cql';

// JupyterLab registers text/x-cql already (a plain SQL dialect); this one knows the magic line and :markers.
export const CQL_MIME = 'text/x-cassnb-cql';
const CQL_CELL = /^\s*%%(cql|cassnb)(\s|$)/;

function isCql(model: ICellModel): boolean {
  const source = model.sharedModel.getSource();
  return CQL_CELL.test(source.split('\n', 1)[0]);
}

const cqlLanguage = StreamLanguage.define(cql);
const cqlSupport = new LanguageSupport(cqlLanguage);

function follow(panel: NotebookPanel, languages: IEditorLanguageRegistry): void {
  const notebook = panel.content;
  const watched = new WeakSet<ICellModel>();

  /**
   * An editor loads the language of each mime type it is given asynchronously, and the last load to finish
   * wins; so once both languages are loaded, look at the language in effect and set the mime type again
   * if it is not the one the cell's first line asks for.
   */
  const check = (cell: Cell, attempts: number): void => {
    const view = (cell.editor as CodeMirrorEditor | null)?.editor;
    if (!view || cell.isDisposed || cell.model.type !== 'code') {
      return;
    }
    const wantCql = isCql(cell.model);
    if (wantCql === (view.state.facet(language) === cqlLanguage) || attempts <= 0) {
      return;
    }
    cell.model.mimeType = wantCql ? notebook.codeMimetype : CQL_MIME;
    cell.model.mimeType = wantCql ? CQL_MIME : notebook.codeMimetype;
    settle(cell, attempts - 1);
  };
  const settle = (cell: Cell, attempts = 3): void => {
    void Promise.all([languages.getLanguage(notebook.codeMimetype), languages.getLanguage(CQL_MIME)]).then(() =>
      requestAnimationFrame(() => check(cell, attempts))
    );
  };

  const apply = (cell: Cell): void => {
    const model = cell.model;
    if (model.type !== 'code') {
      return;
    }
    const wanted = isCql(model) ? CQL_MIME : notebook.codeMimetype;
    if (model.mimeType !== wanted) {
      model.mimeType = wanted;
    }
    settle(cell);
    if (!watched.has(model)) {
      watched.add(model);
      model.contentChanged.connect(() => apply(cell));
    }
  };
  const applyAll = (): void => notebook.widgets.forEach(apply);
  const watch = (): void => {
    notebook.model?.cells.changed.connect(() => requestAnimationFrame(applyAll));
    notebook.model?.metadataChanged.connect(applyAll);
  };

  watch();
  notebook.modelChanged.connect(() => {
    watch();
    requestAnimationFrame(applyAll);
  });
  panel.sessionContext.kernelChanged.connect(() => requestAnimationFrame(applyAll));
  void panel.revealed.then(applyAll);
  applyAll();
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'cassnb-cql:plugin',
  description: 'CQL syntax highlighting for %%cql cells.',
  autoStart: true,
  requires: [IEditorLanguageRegistry, INotebookTracker],
  activate: (_app: JupyterFrontEnd, languages: IEditorLanguageRegistry, notebooks: INotebookTracker) => {
    languages.addLanguage({
      name: 'cassnb-cql',
      displayName: 'CQL (cassnb)',
      mime: CQL_MIME,
      extensions: [],
      load: async () => cqlSupport
    });
    notebooks.forEach(panel => follow(panel, languages));
    notebooks.widgetAdded.connect((_tracker, panel) => follow(panel, languages));
  }
};

export default plugin;
