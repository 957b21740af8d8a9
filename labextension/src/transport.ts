import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { INbtrainKernels } from './kernels';
import { Action } from './protocol';

export const TransportIDs = {
  toggle: 'nbtrain:toggle-training',
  step: 'nbtrain:step',
  reset: 'nbtrain:reset',
  reinit: 'nbtrain:reinit',
  cue: 'nbtrain:next-cue'
};

/**
 * Keyboard transport for the trainer of the active notebook's kernel (the one running, else the newest):
 * play/pause, step, reset, re-init, and the next cue of a scene a Lab is playing. Shortcuts live in the plugin's settings (`jupyter.lab.shortcuts`).
 */
export function activateTransport(
  app: JupyterFrontEnd,
  kernels: INbtrainKernels,
  settingRegistry: ISettingRegistry | null,
  palette: ICommandPalette | null,
  pluginId: string
): void {
  let stepSize = 10;
  let sameInit = false;

  const send = (action: Action, extra: { [key: string]: number | boolean } = {}) => {
    const link = kernels.current;
    if (!link || !link.send(action, extra)) {
      Notification.warning('nbtrain: no trainer in the active notebook’s kernel (run a cell that imports nbtrain).', {
        autoClose: 3000
      });
      return false;
    }
    return true;
  };

  // the kernel refused an action (no trainer, a bad value, ...): say so, briefly
  kernels.replied.connect((_, reply) => {
    if (!reply.ok) {
      Notification.warning(`nbtrain: ${reply.action}: ${reply.error ?? 'refused'}`, { autoClose: 4000 });
    }
  });

  const commands: [string, string, string, () => boolean][] = [
    [TransportIDs.toggle, 'nbtrain: Play / Pause Training', 'Start, pause or resume the trainer', () => send('toggle')],
    [TransportIDs.step, 'nbtrain: Step', 'Run the configured number of steps, then pause', () => send('step', { n: stepSize })],
    [TransportIDs.reset, 'nbtrain: Reset Training', 'Clear the history and start over at step 0', () => send('reset', { same_init: sameInit })],
    [TransportIDs.reinit, 'nbtrain: Re-initialise Weights', 'Re-initialise the weights with the configured initializer', () => send('reinit')],
    [TransportIDs.cue, 'nbtrain: Next Cue', 'Fire the next cue of the scene a Lab is playing', () => send('cue')]
  ];
  for (const [id, label, caption, execute] of commands) {
    app.commands.addCommand(id, {
      label,
      caption,
      isEnabled: () => true, // a disabled command would let its shortcut fall through to the notebook
      execute
    });
    palette?.addItem({ command: id, category: 'nbtrain' });
  }

  if (settingRegistry) {
    void settingRegistry
      .load(pluginId)
      .then(settings => {
        const read = () => {
          stepSize = settings.get('stepSize').composite as number;
          sameInit = settings.get('resetSameInit').composite as boolean;
        };
        settings.changed.connect(read);
        read();
      })
      .catch(reason => console.error('nbtrain: could not load the transport settings', reason));
  }
}
