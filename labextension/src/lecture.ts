import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

export const LECTURE_CLASS = 'nbtrain-lecture';
export const CommandIDs = { toggleLecture: 'nbtrain:toggle-lecture-mode' };

/**
 * Lecture mode: a class on <body> that the stylesheet uses to scale every nbtrain widget and curve for a
 * projector (large type, thick lines, high contrast). The state lives in the settings registry, so it is
 * remembered across reloads and can be set in the Settings Editor.
 */
export function activateLecture(
  app: JupyterFrontEnd,
  settingRegistry: ISettingRegistry | null,
  palette: ICommandPalette | null,
  pluginId: string
): void {
  let enabled = false;
  let scale = 1.5;
  let settings: ISettingRegistry.ISettings | null = null;

  const apply = () => {
    document.body.classList.toggle(LECTURE_CLASS, enabled);
    document.body.style.setProperty('--nbtrain-lecture-scale', String(scale));
    // bqplot figures measure themselves on resize: once the new styles are laid out, and once more after the
    // figures' own size changes have settled
    const resize = () => window.dispatchEvent(new Event('resize'));
    requestAnimationFrame(resize);
    window.setTimeout(resize, 300);
    app.commands.notifyCommandChanged(CommandIDs.toggleLecture);
  };

  app.commands.addCommand(CommandIDs.toggleLecture, {
    label: 'nbtrain: Lecture Mode',
    caption: 'Scale nbtrain widgets and curves for a projector (large type, thick lines, high contrast)',
    isToggled: () => enabled,
    execute: async () => {
      enabled = !enabled;
      apply();
      if (settings) {
        await settings.set('lectureMode', enabled);
      }
    }
  });
  palette?.addItem({ command: CommandIDs.toggleLecture, category: 'nbtrain' });

  if (settingRegistry) {
    void settingRegistry
      .load(pluginId)
      .then(loaded => {
        settings = loaded;
        const read = () => {
          enabled = loaded.get('lectureMode').composite as boolean;
          scale = loaded.get('scale').composite as number;
          apply();
        };
        loaded.changed.connect(read);
        read();
      })
      .catch(reason => console.error('nbtrain: could not load the lecture settings', reason));
  }
}
