/**
 * Choosing one person from the phone book (the members panel grants them a role, the share panel
 * shares a contract with them): the query, what it found, and who was chosen.
 */
import { searchPeople } from './directory';
import type { Person } from './schemas';

export class PeoplePicker {
  query = $state('');
  found = $state.raw<Person[]>([]);
  /** whether a search has answered (so "nobody found" can be told from "not searched yet") */
  searched = $state(false);
  chosen = $state.raw<Person | null>(null);

  async search(): Promise<void> {
    this.chosen = null;
    this.found = await searchPeople(this.query.trim(), 10);
    this.searched = true;
  }

  clear(): void {
    this.chosen = null;
    this.found = [];
    this.searched = false;
    this.query = '';
  }
}
