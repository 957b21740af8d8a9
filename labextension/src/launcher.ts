import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { PartialJSONObject, ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { LabIcon } from '@jupyterlab/ui-components';
import { PathExt } from '@jupyterlab/coreutils';

import bundled from './notebooks.json';

export const LauncherIDs = { open: 'nbtrain:open-notebook', copyAll: 'nbtrain:copy-notebooks' };

interface IBundledNotebook {
  name: string;
  title: string;
  content: PartialJSONObject;
}

const NOTEBOOKS = bundled as unknown as IBundledNotebook[];

export const nbtrainIcon = new LabIcon({
  name: 'nbtrain:logo',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<path d="M3 3h2v16h16v2H3z"/></g><path d="M6 6c2 0 3 9 6 10s4-4 6-4 2 1 3 1" fill="none" ' +
    'stroke="#e65100" stroke-width="2" stroke-linecap="round"/></svg>'
});

/**
 * Launcher cards (category "nbtrain") and palette commands that copy the bundled lecture notebooks into the
 * current folder (never overwriting a file that is there) and open them.
 */
export function activateLauncher(
  app: JupyterFrontEnd,
  launcher: ILauncher | null,
  palette: ICommandPalette | null,
  browser: IDefaultFileBrowser | null
): void {
  const contents = app.serviceManager.contents;

  const copy = async (nb: IBundledNotebook, cwd: string): Promise<string> => {
    const path = PathExt.join(cwd, nb.name);
    try {
      await contents.get(path, { content: false });
      return path; // already there: open the existing copy, keep the reader's changes
    } catch {
      await contents.save(path, { type: 'notebook', format: 'json', content: nb.content });
      return path;
    }
  };

  // the launcher passes its folder as `cwd`; from the palette, use the file browser's folder
  const cwdOf = (args: ReadonlyPartialJSONObject): string =>
    typeof args.cwd === 'string' ? args.cwd : (browser?.model.path ?? '');

  app.commands.addCommand(LauncherIDs.open, {
    label: args => (args.isPalette ? `nbtrain: Open ${args.title ?? args.name}` : String(args.title ?? args.name ?? 'nbtrain notebook')),
    caption: args => `Copy ${args.name} into this folder (if it is not there yet) and open it`,
    icon: args => (args.isPalette ? undefined : nbtrainIcon),
    execute: async args => {
      const nb = NOTEBOOKS.find(n => n.name === args.name) ?? NOTEBOOKS[0];
      if (!nb) {
        return;
      }
      const path = await copy(nb, cwdOf(args));
      return app.commands.execute('docmanager:open', { path, factory: 'Notebook' });
    }
  });

  app.commands.addCommand(LauncherIDs.copyAll, {
    label: 'nbtrain: Copy All Lecture Notebooks Here',
    caption: 'Copy every bundled nbtrain notebook into the current folder (existing files are kept)',
    execute: async args => {
      const cwd = cwdOf(args);
      const paths = [];
      for (const nb of NOTEBOOKS) {
        paths.push(await copy(nb, cwd));
      }
      Notification.info(`nbtrain: ${paths.length} notebooks in /${cwd}`, { autoClose: 3000 });
      return paths;
    }
  });

  NOTEBOOKS.forEach((nb, rank) => {
    launcher?.add({ command: LauncherIDs.open, args: { name: nb.name, title: nb.title }, category: 'nbtrain', rank });
    palette?.addItem({ command: LauncherIDs.open, args: { name: nb.name, title: nb.title, isPalette: true }, category: 'nbtrain' });
  });
  palette?.addItem({ command: LauncherIDs.copyAll, category: 'nbtrain' });
}
