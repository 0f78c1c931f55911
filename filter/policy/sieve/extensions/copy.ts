/** RFC 3894 copy: the :copy tag on fileinto and redirect keeps the implicit keep in effect. */
import type { SieveExtension } from '../extension-api.js';

/** The copy extension. */
export const copyExtension: SieveExtension = {
  capabilities: ['copy'],
  tagsFor: {
    fileinto: [{ name: 'copy', capability: 'copy' }],
    redirect: [{ name: 'copy', capability: 'copy' }],
  },
};
