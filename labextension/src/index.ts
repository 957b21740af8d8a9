/**
 * nbtrain's JupyterLab extension: lecture mode, keyboard transport and a status bar item for the trainers
 * of the active notebook's kernel, and launcher cards for the bundled lecture notebooks.
 *
 * Everything the kernel side does goes through the `nbtrain` comm target (protocol.ts); without this
 * extension the Python widgets work unchanged (their layout and lecture-mode styles travel with them).
 *
 * Only one plugin is registered up front, `nbtrain:extension`. Where the page has notebooks (JupyterLab,
 * Notebook 7) it loads the file browser, launcher and status bar modules on demand and registers and
 * activates the five nbtrain plugins. In an app without notebooks, such as a Voilà dashboard (no notebook
 * tracker, no file browser, launcher or status bar in its shared modules), it does nothing, so the page
 * loads without a single error.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import type { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import type { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import type { IStatusBar } from '@jupyterlab/statusbar';
import { Token } from '@lumino/coreutils';

import { activateFeedback } from './feedback';
import { INbtrainKernels, NbtrainKernels } from './kernels';
import { activateLauncher } from './launcher';
import { activateLecture } from './lecture';
import { activateStatus } from './status';
import { activateTransport } from './transport';

export { INbtrainKernels } from './kernels';

/** The plugin that provides INotebookTracker in JupyterLab and Notebook 7 (absent in Voilà). */
const NOTEBOOK_TRACKER_PLUGIN = '@jupyterlab/notebook-extension:tracker';

interface IAppTokens {
  fileBrowser: Token<IDefaultFileBrowser>;
  launcher: Token<ILauncher>;
  statusBar: Token<IStatusBar>;
}

/** The five plugins, given the tokens of the modules that only notebook apps share. */
function plugins(tokens: IAppTokens): JupyterFrontEndPlugin<any>[] {
  /** Comm links to the `nbtrain` target of every notebook's kernel. */
  const kernels: JupyterFrontEndPlugin<INbtrainKernels> = {
    id: 'nbtrain:kernels',
    description: 'Talks to nbtrain in the notebooks kernels over the nbtrain comm target.',
    autoStart: true,
    requires: [INotebookTracker],
    provides: INbtrainKernels,
    activate: (_app: JupyterFrontEnd, notebooks: INotebookTracker) => new NbtrainKernels(notebooks)
  };

  /** Lecture mode: scale nbtrain widgets and curves for a projector; remembered in the settings. */
  const lecture: JupyterFrontEndPlugin<void> = {
    id: 'nbtrain:lecture',
    description: 'Lecture mode for nbtrain widgets (large type, thick lines, high contrast).',
    autoStart: true,
    optional: [ISettingRegistry, ICommandPalette],
    activate: (app: JupyterFrontEnd, settings: ISettingRegistry | null, palette: ICommandPalette | null) =>
      activateLecture(app, settings, palette, 'nbtrain:lecture')
  };

  /** Keyboard transport: play/pause, step, reset, re-init of the active notebook's trainer. */
  const transport: JupyterFrontEndPlugin<void> = {
    id: 'nbtrain:transport',
    description: 'Keyboard shortcuts that drive the trainer of the active notebook.',
    autoStart: true,
    requires: [INbtrainKernels],
    optional: [ISettingRegistry, ICommandPalette],
    activate: (
      app: JupyterFrontEnd,
      links: INbtrainKernels,
      settings: ISettingRegistry | null,
      palette: ICommandPalette | null
    ) => activateTransport(app, links, settings, palette, 'nbtrain:transport')
  };

  /** Status bar item: state, step, loss and device of the active notebook's trainer; click toggles pause. */
  const status: JupyterFrontEndPlugin<void> = {
    id: 'nbtrain:status',
    description: 'Shows the active notebook trainer in the status bar.',
    autoStart: true,
    requires: [INbtrainKernels],
    optional: [tokens.statusBar],
    activate: (app: JupyterFrontEnd, links: INbtrainKernels, statusBar: IStatusBar | null) => {
      if (statusBar) {
        activateStatus(statusBar, links, app.commands);
      }
    }
  };

  /** Launcher cards and palette commands that copy the bundled lecture notebooks here and open them. */
  const launcher: JupyterFrontEndPlugin<void> = {
    id: 'nbtrain:launcher',
    description: 'Launcher cards for the nbtrain lecture notebooks.',
    autoStart: true,
    optional: [tokens.launcher, ICommandPalette, tokens.fileBrowser],
    activate: (
      app: JupyterFrontEnd,
      launcherToken: ILauncher | null,
      palette: ICommandPalette | null,
      browser: IDefaultFileBrowser | null
    ) => activateLauncher(app, launcherToken, palette, browser)
  };

  return [kernels, lecture, transport, status, launcher];
}

const extension: JupyterFrontEndPlugin<void> = {
  id: 'nbtrain:extension',
  description: 'Registers the nbtrain plugins where there are notebooks; nothing in apps such as Voilà.',
  autoStart: true,
  activate: async (app: JupyterFrontEnd): Promise<void> => {
    if (!app.hasPlugin(NOTEBOOK_TRACKER_PLUGIN)) {
      return; // e.g. Voilà: the widgets render by themselves, there is nothing for the extension to do
    }
    const [filebrowser, launcher, statusbar] = await Promise.all([
      import('@jupyterlab/filebrowser'),
      import('@jupyterlab/launcher'),
      import('@jupyterlab/statusbar')
    ]);
    const list = plugins({
      fileBrowser: filebrowser.IDefaultFileBrowser,
      launcher: launcher.ILauncher,
      statusBar: statusbar.IStatusBar
    });
    app.registerPlugins(list);
    for (const plugin of list) {
      await app.activatePlugin(plugin.id);
    }
    activateFeedback(); // "pending" on a Lab control's change in the same frame (feedback.ts)
  }
};

export default extension;
