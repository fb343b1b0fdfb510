// Decodes a file of ESC/POS bytes with npos (npm), an ESC/POS parser kassa did not write:
// its tokenizer splits the commands, its text codec and textualize() give the printed text.
// GS ( k (2D codes) is not among npos's built-in rules; it is added through npos's documented
// rule extension with its built-in 'd16' splitter (pL pH length). The QR payload is then the
// bytes of the "store the data" function (cn 49, fn 80, m 48) of those parsed commands.
// Usage: node decode_escpos.js IN.bin OUT.json  ->  {"text": [...lines], "qr": [...], "commands": [...]}
const fs = require('fs');
const npos = require(process.env.NPOS_DIR ? process.env.NPOS_DIR + '/node_modules/npos' : 'npos');

const rules = npos.rules;
rules[npos.symbols.GS]['(k'] = [0, 'd16'];
const raw = fs.readFileSync(process.argv[2]);
npos.parser(rules).parse(raw).then(function (ast) {
  if (ast.error) throw ast.error;
  const qr = [];
  const commands = [];
  for (const n of ast.tree) {
    if (n.ascii === 'STX') continue;
    commands.push(n.ascii + ' ' + (n.fn || ''));
    if (n.ascii === 'GS' && n.fn === '(k') {
      const body = raw.slice(n.offset + 5, n.offset + n.length);
      if (body[0] === 49 && body[1] === 80 && body[2] === 48) {
        qr.push(body.slice(3).toString('ascii'));
      }
    }
  }
  return npos.textualize(ast, { text: { encoding: 'ascii' } }).then(function (texts) {
    const text = texts.filter(function (t) { return t; }).join('').split('\n');
    if (text.length && text[text.length - 1] === '') text.pop();
    fs.writeFileSync(process.argv[3], JSON.stringify({ text: text, qr: qr, commands: commands }));
  });
}).catch(function (e) {
  console.error('decode failed: ' + e);
  process.exit(1);
});
