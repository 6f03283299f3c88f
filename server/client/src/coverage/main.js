// Placeholder so the build works; the coverage map engineer owns src/coverage/ and replaces this.
export {};
