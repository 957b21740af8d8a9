/**
 * The messages of the `nbtrain` Jupyter comm target (see `nbtrain/kernel_comm.py`, which is the reference).
 *
 * front end -> kernel: `{action: 'hello' | 'status' | 'toggle' | 'start' | 'pause' | 'step' | 'reset' | 'reinit' | 'cue',
 *                        n?: number, trainer?: string}`
 * kernel -> front end: `{type: 'status', protocol, trainers: ITrainerStatus[]}` (at most 4 per second) and
 *                      `{type: 'reply', action, ok, error?, trainer?}` after each action.
 */
export const COMM_TARGET = 'nbtrain';
export const PROTOCOL_VERSION = 1;

export type Action = 'hello' | 'status' | 'toggle' | 'start' | 'pause' | 'step' | 'reset' | 'reinit' | 'cue';

/** One live Trainer of the kernel, as the kernel reports it. */
export interface ITrainerStatus {
  id: string;
  state: string;
  step: number;
  max_steps: number | null;
  epoch: number;
  /** the latest training loss; null before the first step or when it is not finite (see loss_text) */
  loss: number | null;
  loss_text: string;
  device: string;
  message: string;
  label: string;
}

export interface IStatusMessage {
  type: 'status';
  protocol: number;
  trainers: ITrainerStatus[];
  /** the id of the trainer that actions without `trainer` address */
  focus: string | null;
}

export interface IReplyMessage {
  type: 'reply';
  action: Action;
  ok: boolean;
  error?: string;
  trainer?: string;
}

export type KernelMessage = IStatusMessage | IReplyMessage;
