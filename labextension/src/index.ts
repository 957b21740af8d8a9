/**
 * nbtrain's JupyterLab extension: lecture mode, keyboard transport and a status bar item for the trainers
 * of the active notebook's kernel, and launcher cards for the bundled lecture notebooks.
 *
 * Everything the kernel side does goes through the `nbtrain` comm target (protocol.ts); without this
 * extension the Python widgets work unchanged.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';

import { INbtrainKernels, NbtrainKernels } from './kernels';
import { activateLauncher } from './launcher';
import { activateLecture } from './lecture';
import { activateStatus } from './status';
import { activateTransport } from './transport';

export { INbtrainKernels } from './kernels';

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
  activate: (app: JupyterFrontEnd, links: INbtrainKernels, settings: ISettingRegistry | null, palette: ICommandPalette | null) =>
    activateTransport(app, links, settings, palette, 'nbtrain:transport')
};

/** Status bar item: state, step, loss and device of the active notebook's trainer; click toggles pause. */
const status: JupyterFrontEndPlugin<void> = {
  id: 'nbtrain:status',
  description: 'Shows the active notebook trainer in the status bar.',
  autoStart: true,
  requires: [INbtrainKernels],
  optional: [IStatusBar],
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
  optional: [ILauncher, ICommandPalette, IDefaultFileBrowser],
  activate: (
    app: JupyterFrontEnd,
    launcherToken: ILauncher | null,
    palette: ICommandPalette | null,
    browser: IDefaultFileBrowser | null
  ) => activateLauncher(app, launcherToken, palette, browser)
};

export default [kernels, lecture, transport, status, launcher];
